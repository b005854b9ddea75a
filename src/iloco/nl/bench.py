"""NL benchmark: the NL1 trainers (linear model; homogeneous networks) batched over data sets and
losses against a per-trial loop, next to the machine's matmul rate and memory bandwidth."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from iloco.core import engine
from iloco.core.bench import roofline, speedup, stamp


def nl_trainer(instances: int, n: int, d: int, steps: int, device: str, threads: int) -> pd.DataFrame:
    """GD steps per second of the NL1 trainers, batched (data sets × two losses as one batch)
    against a loop over single trials, same data and steps: the linear model (2 batched
    matrix-vector products of n × d per trial and step, reading the data twice) and each
    homogeneous architecture at width d on ``instances // 2`` data sets (NL1's ratio). With the
    achieved GFLOP/s and GB/s and their share of the roofline measured in the same run."""
    from iloco.nl import separable

    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    data = [separable.random_separable(n, d, 0.1, seed=i) for i in range(instances)]
    X = torch.as_tensor(np.stack([X for X, _ in data]), device=dev)
    y = torch.as_tensor(np.stack([y for _, y in data]), device=dev)
    Z = y[:, :, None] * X
    losses = ["logistic", "exp"]
    rows = []

    for mode in ("batched", "per-trial loop"):
        jobs = [(slice(0, instances), losses)]
        if mode != "batched":
            jobs = [(slice(i, i + 1), [ls]) for i in range(instances) for ls in losses]
        t0 = time.perf_counter()
        for rs, ls in jobs:
            separable.train_linear(Z[rs], ls, 1.0, [steps])
        wall = _sync(dev, t0)
        trials = instances * len(losses)
        flops, moved = 2 * 2 * n * d * trials, 2 * 8 * n * d * (instances if mode == "batched" else trials)
        rows.append(_row("nl_trainer", "linear", mode, trials, n, d, steps, wall, flops, moved))
    k, width, hsteps = max(1, instances // 2), d, max(1, steps // 10)
    for arch in separable.ARCHS:
        p0 = {key: v.to(dev) for key, v in separable.init_homogeneous(arch, k, 2, d, width, 0.3, 0).items()}
        # ReLU: (n × d)(d × width) forward and the same for ∇W₁; linear: products with the end-to-end vector
        per = 4 * n * d * width if arch == "relu2" else 4 * n * d + 4 * d * width * (2 if arch == "linear3" else 1)
        for mode in ("batched", "per-trial loop"):
            jobs = [(slice(0, k), slice(0, 2), losses)]
            if mode != "batched":
                jobs = [(slice(i, i + 1), slice(j, j + 1), [ls]) for i in range(k) for j, ls in enumerate(losses)]
            t0 = time.perf_counter()
            for rs, cs, ls in jobs:
                separable.train_homogeneous(
                    X[rs], y[rs], arch, {q: v[rs, cs] for q, v in p0.items()}, ls, 0.01, [hsteps]
                )
            wall = _sync(dev, t0)
            moved = 8 * (2 * n * d + (3 * n * width if arch == "relu2" else 0)) * (k if mode == "batched" else 2 * k)
            rows.append(_row("nl_homogeneous", arch, mode, 2 * k, n, d, hsteps, wall, per * 2 * k, moved))
    table = pd.DataFrame(rows)
    table["speedup"] = table.groupby(["benchmark", "model"], group_keys=False)[["mode", "trial_steps_per_s"]].apply(
        lambda g: speedup(g, "trial_steps_per_s")
    )
    return stamp(roofline(table, "gflops", "gb_s", dev, torch.float64), dev, threads)


def _sync(dev: torch.device, t0: float) -> float:
    """Seconds since ``t0`` once the device has finished."""
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _row(bench: str, model: str, mode: str, trials: int, n: int, d: int, steps: int, wall: float, flops, moved):
    """One benchmark row; ``flops`` and ``moved`` (bytes) per step of the whole batch."""
    return {
        "benchmark": bench,
        "model": model,
        "mode": mode,
        "trials": trials,
        "n": n,
        "d": d,
        "steps": steps,
        "wall_s": wall,
        "trial_steps_per_s": trials * steps / wall,
        "gflops": flops * steps / wall / 1e9,
        "gb_s": moved * steps / wall / 1e9,
    }
