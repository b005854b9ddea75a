"""Benchmarks (not timed tests): throughput of the batched trainers against per-trial loops."""

from __future__ import annotations

import platform
import time

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


def sp1_trainer(instances: int, alphas: list[float], steps: int, device: str, threads: int) -> pd.DataFrame:
    """Trials per second of the batched SP trainer against a loop over single trials, on the
    same instances and the same number of steps (tolerances off, so both do equal work)."""
    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    dtype = torch.float64
    inst = sp.make_instances(100, 40, 5, instances, seed=0)
    stop = engine.StopRule(max_steps=steps, tol_loss=0.0, tol_change=-1.0, check_every=steps)
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
    table["speedup"] = table["trials_per_s"] / table.loc[table["mode"] == "per-trial loop", "trials_per_s"].iloc[0]
    table["matmul_gflops"] = _matmul_gflops(dev, dtype)
    table["device"] = engine.device_label(dev)
    table["threads"] = threads
    table["cpu"] = platform.processor() or platform.machine()
    table["versions"] = provenance.versions()
    return table


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
    loop = table.loc[table["mode"] == "per-instance loop", "instances_per_s"].iloc[0]
    table["speedup"] = table["instances_per_s"] / loop
    table["matmul_gflops"] = _matmul_gflops(dev, torch.float64)
    table["device"] = engine.device_label(dev)
    table["threads"] = threads
    table["cpu"] = platform.processor() or platform.machine()
    table["versions"] = provenance.versions()
    return table
