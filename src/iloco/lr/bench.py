"""LR benchmark: the batched factorization trainer in GFLOP/s against the machine's batched
matmul and its roofline (matmul rate, memory bandwidth), and time to loss 1e-6 against a plain
NumPy loop, by GD and by normalized RMSprop."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from iloco.core import engine
from iloco.core.bench import bmm_gflops, roofline, stamp


def _numpy_loop_to_loss(inst: dict, depth: int, lr_frac: float, tol: float, max_steps: int, seed: int):
    """A plain per-trial NumPy loop of the same GD (same start, step and stopping rule)."""

    from iloco.lr import model, problems

    d = inst["W_star"].shape[1]
    m = int(inst["observations"][0])
    mask = problems.masks(inst)[0, 0]
    Y = inst["W_star"][0] * mask
    eta = float(model.step_sizes(inst, depth, lr_frac)[0, 0])
    fs = list(model.init_factors(inst["seeds"], d, depth, np.array([m]), np.array([1e-3]), seed)[:, 0, 0])
    for t in range(1, max_steps + 1):
        rights = [None]
        P = fs[0]
        for f in fs[1:]:
            rights.append(P)
            P = f @ P
        G = (P - Y) * mask / m
        left, grads = G, [None] * depth
        for j in reversed(range(depth)):
            grads[j] = left if rights[j] is None else left @ rights[j].T
            if j:
                left = fs[j].T @ left
        for j in range(depth):
            fs[j] -= eta * grads[j]
        if t % 100 == 0:
            R = (P - Y) * mask
            if 0.5 * (R * R).sum() / m <= tol:
                return t
    return max_steps


def lr_trainer(d: int, depth: int, instances: int, device: str, threads: int) -> pd.DataFrame:
    """LR trainer: (1) achieved GFLOP/s of the batched GD step (instances × 4 cells, d × d
    factors, depth N, fixed steps) against the machine's batched-matmul rate at the same shape,
    measured in the same run; (2) wall time of one d × d, rank-5, 2000-observation depth-N
    completion run to loss 1e-6 through the engine, by GD and by normalized RMSprop, and of a
    plain per-trial NumPy loop (GD)."""
    from iloco.lr import model, problems

    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    dtype = torch.float64
    rows = []
    inst = problems.make_instances("completion", d, 5, [1500, 2000], instances, seed=0)
    alphas = [1e-3, 1e-2]
    cells = instances * 2 * len(alphas)
    steps = 200
    stop = engine.fixed_steps(steps)
    model.train(inst, depth, alphas, engine.StopRule(5, 0.0, -1.0, 5), 0.5, dev, dtype, progress=False)  # warm-up
    t0 = time.perf_counter()
    res = model.train(inst, depth, alphas, stop, 0.5, dev, dtype, progress=False)
    wall = res.elapsed_s
    # bmm per step: N−1 (product) + N−1 (left products) + N−1 (factor gradients), 2d³ flops each
    flops = 3 * (depth - 1) * 2 * d**3 * cells * steps
    rows.append(
        {
            "benchmark": "lr_trainer_gflops",
            "mode": "batched",
            "trials": cells,
            "steps": steps,
            "wall_s": wall,
            "setup_s": time.perf_counter() - t0 - wall,
            "gflops": flops / wall / 1e9,
            "gb_s": flops / (2 * d) * 3 * 8 / wall / 1e9,  # each d × d product reads two factors, writes one
            "bmm_gflops": bmm_gflops(dev, dtype, cells, d),
        }
    )
    one = problems.make_instances("completion", d, 5, [2000], 1, seed=0)
    stop = engine.StopRule(max_steps=100_000, tol_loss=1e-6, tol_change=0.0, check_every=100)
    # GD (step 0.5/κ) and Arora et al.'s normalized RMSprop at their learning rate 1e-3
    for method, rate in (("gd", 0.5), ("rmsprop", 1e-3)):
        t0 = time.perf_counter()
        res = model.train(one, depth, [1e-3], stop, rate, dev, dtype, method=method, progress=False)
        total = time.perf_counter() - t0
        err = float(problems.rel_error(model.product(res, depth)[0, 0], one["W_star"][0]))
        rows.append(
            {
                "benchmark": "lr_run_to_1e-6",
                "mode": "engine" if method == "gd" else f"engine, {method}",
                "trials": 1,
                "steps": int(res.steps[0, 0]),
                "wall_s": total,
                "status": engine.STATUS[int(res.status[0, 0])],
                "rel_error": err,
            }
        )
    t0 = time.perf_counter()
    n = _numpy_loop_to_loss(one, depth, 0.5, 1e-6, 100_000, 0)
    rows.append(
        {
            "benchmark": "lr_run_to_1e-6",
            "mode": "per-trial NumPy loop",
            "trials": 1,
            "steps": n,
            "wall_s": time.perf_counter() - t0,
        }
    )
    table = pd.DataFrame(rows)
    table["d"] = d
    table["depth"] = depth
    return stamp(roofline(table, "gflops", "gb_s", dev, dtype), dev, threads)
