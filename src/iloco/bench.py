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
