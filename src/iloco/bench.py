"""Benchmarks (not timed tests): throughput of the batched trainers against per-trial loops."""

from __future__ import annotations

import platform
import time

import numpy as np
import pandas as pd
import torch

from iloco import engine, provenance, sp


def _matmul_gflops(device: torch.device, dtype: torch.dtype, size: int = 512, reps: int = 20) -> float:
    """The machine's own dense matmul rate, measured now, for scale."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * reps / (time.perf_counter() - t0) / 1e9


def _speedup(table: pd.DataFrame, rate: str) -> pd.Series:
    """Each mode's ``rate`` over that of the loop mode (the one whose name ends in "loop")."""
    return table[rate] / table.loc[table["mode"].str.endswith("loop"), rate].iloc[0]


def _stamp(table: pd.DataFrame, dev: torch.device, threads: int) -> pd.DataFrame:
    """Where a benchmark ran: device, threads, CPU and package versions, on every row."""
    table["device"] = engine.device_label(dev)
    table["threads"] = threads
    table["cpu"] = platform.processor() or platform.machine()
    table["versions"] = provenance.versions()
    return table


def sp1_trainer(instances: int, alphas: list[float], steps: int, device: str, threads: int) -> pd.DataFrame:
    """Trials per second of the batched SP trainer against a loop over single trials, on the
    same instances and the same number of steps (tolerances off, so both do equal work)."""
    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    dtype = torch.float64
    inst = sp.make_instances(100, 40, 5, instances, seed=0)
    stop = engine.fixed_steps(steps)
    rows = []
    trials = instances * len(alphas)
    for mode in ("batched", "per-trial loop"):
        t0 = time.perf_counter()
        if mode == "batched":
            sp.train(inst, 2, alphas, stop, 0.5, dev, dtype, progress=False)
        else:
            for i in range(instances):
                one = {k: v[i : i + 1] for k, v in inst.items()}
                for a in alphas:
                    sp.train(one, 2, [a], stop, 0.5, dev, dtype, progress=False)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        # flops per step: two batched mat-vecs of size m x n per trial (forward and backward)
        gflops = 2 * 2 * 40 * 100 * trials * steps / wall / 1e9
        rows.append(
            {
                "benchmark": "sp1_trainer",
                "mode": mode,
                "trials": trials,
                "steps": steps,
                "wall_s": wall,
                "trials_per_s": trials / wall,
                "trial_steps_per_s": trials * steps / wall,
                "gflops": gflops,
            }
        )
    table = pd.DataFrame(rows)
    table["speedup"] = _speedup(table, "trials_per_s")
    table["matmul_gflops"] = _matmul_gflops(dev, dtype)
    return _stamp(table, dev, threads)


def id_identify(instances: int, d: int, m: int, n_hessians: int, device: str, threads: int) -> pd.DataFrame:
    """Networks identified per second (ID1 method at d, m, N_h, central differences): all
    instances behind one oracle as one batch, against a loop over single instances on the same
    networks; with the share of each stage and the machine's matmul rate for scale."""
    from iloco import ident

    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    nets = ident.shallow_networks(instances, d, m, "tanh", 0.0, seed=0, device=dev)
    kw = {"activation": "tanh", "seed": 0}
    rows = []
    for mode in ("batched", "per-instance loop"):
        stages: dict[str, float] = {}
        found = 0
        t0 = time.perf_counter()
        if mode == "batched":
            parts = [nets]
        else:
            parts = [
                ident.ShallowNets(nets.A[i : i + 1], nets.theta[i : i + 1], nets.b[i : i + 1], "tanh")
                for i in range(instances)
            ]
        for part in parts:
            res = ident.identify_shallow(ident.oracle_of(part), m, n_hessians, restarts=10 * m, **kw)
            found += int(res.complete.sum())
            for key, val in res.timings.items():
                stages[key] = stages.get(key, 0.0) + val
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        rows.append(
            {
                "benchmark": "id_identify",
                "mode": mode,
                "d": d,
                "m": m,
                "n_hessians": n_hessians,
                "instances": instances,
                "complete": found,
                "wall_s": wall,
                "instances_per_s": instances / wall,
                "queries_per_instance": int(res.queries[0]),
                **{f"share_{k.removesuffix('_s')}": v / wall for k, v in stages.items()},
            }
        )
    table = pd.DataFrame(rows)
    table["speedup"] = _speedup(table, "instances_per_s")
    table["matmul_gflops"] = _matmul_gflops(dev, torch.float64)
    return _stamp(table, dev, threads)


def _bmm_gflops(device: torch.device, dtype: torch.dtype, batch: int, d: int, reps: int = 50) -> float:
    """The machine's batched-matmul rate at the trainer's own shape (batch × d × d), measured now."""
    a = torch.randn(batch, d, d, device=device, dtype=dtype)
    b = torch.randn(batch, d, d, device=device, dtype=dtype)
    torch.bmm(a, b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.bmm(a, b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * d**3 * batch * reps / (time.perf_counter() - t0) / 1e9


def _numpy_loop_to_loss(inst: dict, depth: int, lr_frac: float, tol: float, max_steps: int, seed: int):
    """A plain per-trial NumPy loop of the same GD (same start, step and stopping rule)."""
    import numpy as np

    from iloco import lr

    d = inst["W_star"].shape[1]
    m = int(inst["observations"][0])
    mask = lr.masks(inst)[0, 0]
    Y = inst["W_star"][0] * mask
    eta = float(lr.step_sizes(inst, depth, lr_frac)[0, 0])
    fs = list(lr.init_factors(inst["seeds"], d, depth, np.array([m]), np.array([1e-3]), seed)[:, 0, 0])
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
    from iloco import lr

    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    dtype = torch.float64
    rows = []
    inst = lr.make_instances("completion", d, 5, [1500, 2000], instances, seed=0)
    alphas = [1e-3, 1e-2]
    cells = instances * 2 * len(alphas)
    steps = 200
    stop = engine.fixed_steps(steps)
    lr.train(inst, depth, alphas, engine.StopRule(5, 0.0, -1.0, 5), 0.5, dev, dtype, progress=False)  # warm-up
    t0 = time.perf_counter()
    res = lr.train(inst, depth, alphas, stop, 0.5, dev, dtype, progress=False)
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
            "bmm_gflops": _bmm_gflops(dev, dtype, cells, d),
        }
    )
    one = lr.make_instances("completion", d, 5, [2000], 1, seed=0)
    stop = engine.StopRule(max_steps=100_000, tol_loss=1e-6, tol_change=0.0, check_every=100)
    # GD (step 0.5/κ) and Arora et al.'s normalized RMSprop at their learning rate 1e-3
    for method, rate in (("gd", 0.5), ("rmsprop", 1e-3)):
        t0 = time.perf_counter()
        res = lr.train(one, depth, [1e-3], stop, rate, dev, dtype, method=method, progress=False)
        total = time.perf_counter() - t0
        err = float(lr.rel_error(lr.product(res, depth)[0, 0], one["W_star"][0]))
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
    return _stamp(table, dev, threads)


def sp2_grid(
    n: int, deltas: list[float], rhos: list[float], trials: int, steps: int, device: str, threads: int
) -> pd.DataFrame:
    """GD iterations per second on the whole SP2 phase-transition grid, batched (one padded
    tensor) against a loop over the instances one at a time, on the same instances and steps
    (tolerances off, so both do equal work); and the time per basis-pursuit LP (HiGHS)."""
    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    dtype = torch.float64
    inst = sp.make_grid_instances(n, deltas, rhos, trials, seed=0, nonzeros="sign")
    rows_n = len(inst["m"])
    stop = engine.fixed_steps(steps)
    rows = []
    for mode in ("batched", "per-instance loop"):
        t0 = time.perf_counter()
        if mode == "batched":
            sp.train(inst, 2, [1e-3], stop, 0.5, dev, dtype, progress=False)
        else:
            for r in range(rows_n):
                m = int(inst["m"][r])
                one = {"A": inst["A"][r : r + 1, :m], "y": inst["y"][r : r + 1, :m]}
                sp.train(one, 2, [1e-3], stop, 0.5, dev, dtype, progress=False)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        rows.append(
            {
                "benchmark": "sp2_grid",
                "mode": mode,
                "instances": rows_n,
                "steps": steps,
                "wall_s": wall,
                "instance_steps_per_s": rows_n * steps / wall,
                "grid_steps_per_s": steps / wall,
            }
        )
    t0 = time.perf_counter()
    bp = sp.solve_grid_bp(inst)
    rows.append(
        {
            "benchmark": "sp2_lp",
            "mode": "HiGHS LP per instance",
            "instances": rows_n,
            "steps": 0,
            "wall_s": time.perf_counter() - t0,
            "lp_median_s": float(np.median(bp["lp_time_s"])),
            "lp_max_s": float(np.max(bp["lp_time_s"])),
        }
    )
    table = pd.DataFrame(rows)
    table["speedup"] = _speedup(table, "instance_steps_per_s")
    table["n"] = n
    table["grid"] = f"{len(deltas)}x{len(rhos)}x{trials}"
    return _stamp(table, dev, threads)


def nl_trainer(instances: int, n: int, d: int, steps: int, device: str, threads: int) -> pd.DataFrame:
    """GD steps per second of the NL1 trainer (separable data × two losses as one batch)
    against a loop over single trials, same data and steps; with the achieved GFLOP/s
    (2 batched matrix-vector products of n × d per trial and step) and the matmul rate."""
    from iloco import nl

    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    data = [nl.random_separable(n, d, 0.1, seed=i) for i in range(instances)]
    Z = torch.as_tensor(np.stack([y[:, None] * X for X, y in data]), device=dev)
    losses = ["logistic", "exp"]
    trials = instances * len(losses)
    rows = []
    for mode in ("batched", "per-trial loop"):
        t0 = time.perf_counter()
        if mode == "batched":
            nl.train_linear(Z, losses, 1.0, [steps])
        else:
            for i in range(instances):
                for loss in losses:
                    nl.train_linear(Z[i : i + 1], [loss], 1.0, [steps])
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        rows.append(
            {
                "benchmark": "nl_trainer",
                "mode": mode,
                "trials": trials,
                "n": n,
                "d": d,
                "steps": steps,
                "wall_s": wall,
                "trial_steps_per_s": trials * steps / wall,
                "gflops": 2 * 2 * n * d * trials * steps / wall / 1e9,
            }
        )
    table = pd.DataFrame(rows)
    table["speedup"] = _speedup(table, "trial_steps_per_s")
    table["matmul_gflops"] = _matmul_gflops(dev, torch.float64)
    return _stamp(table, dev, threads)
