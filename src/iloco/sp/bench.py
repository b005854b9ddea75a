"""SP benchmarks: the batched SP1 trainer and the SP2 grid against per-instance loops, next to
the machine's matmul rate; time per basis-pursuit LP."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from iloco.core import engine
from iloco.core.bench import matmul_gflops, roofline, speedup, stamp
from iloco.sp import model, problems


def sp1_trainer(instances: int, alphas: list[float], steps: int, device: str, threads: int) -> pd.DataFrame:
    """Trials per second of the batched SP trainer against a loop over single trials, on the
    same instances and the same number of steps (tolerances off, so both do equal work)."""
    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    dtype = torch.float64
    inst = problems.make_instances(100, 40, 5, instances, seed=0)
    stop = engine.fixed_steps(steps)
    rows = []
    trials = instances * len(alphas)
    for mode in ("batched", "per-trial loop"):
        t0 = time.perf_counter()
        if mode == "batched":
            model.train(inst, 2, alphas, stop, 0.5, dev, dtype, progress=False)
        else:
            for i in range(instances):
                one = {k: v[i : i + 1] for k, v in inst.items()}
                for a in alphas:
                    model.train(one, 2, [a], stop, 0.5, dev, dtype, progress=False)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        # per step and trial: two mat-vecs of size m x n (forward and backward), each reading A
        gflops = 2 * 2 * 40 * 100 * trials * steps / wall / 1e9
        gb_s = 2 * 40 * 100 * 8 * trials * steps / wall / 1e9
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
                "gb_s": gb_s,
            }
        )
    table = pd.DataFrame(rows)
    table["speedup"] = speedup(table, "trials_per_s")
    table["matmul_gflops"] = matmul_gflops(dev, dtype)
    return stamp(roofline(table, "gflops", "gb_s", dev, dtype), dev, threads)


def sp2_grid(
    n: int, deltas: list[float], rhos: list[float], trials: int, steps: int, device: str, threads: int
) -> pd.DataFrame:
    """GD iterations per second on the whole SP2 phase-transition grid, batched (one padded
    tensor) against a loop over the instances one at a time, on the same instances and steps
    (tolerances off, so both do equal work); and the time per basis-pursuit LP (HiGHS)."""
    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    dtype = torch.float64
    inst = problems.make_grid_instances(n, deltas, rhos, trials, seed=0, nonzeros="sign")
    rows_n = len(inst["m"])
    stop = engine.fixed_steps(steps)
    rows = []
    for mode in ("batched", "per-instance loop"):
        t0 = time.perf_counter()
        if mode == "batched":
            model.train(inst, 2, [1e-3], stop, 0.5, dev, dtype, progress=False)
        else:
            for r in range(rows_n):
                m = int(inst["m"][r])
                one = {"A": inst["A"][r : r + 1, :m], "y": inst["y"][r : r + 1, :m]}
                model.train(one, 2, [1e-3], stop, 0.5, dev, dtype, progress=False)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        # per step and row: two mat-vecs with its m x n matrix, each reading it (padded rows: m_max)
        entries = float(np.sum(inst["m"])) * n
        rows.append(
            {
                "benchmark": "sp2_grid",
                "gflops": 2 * 2 * entries * steps / wall / 1e9,
                "gb_s": 2 * 8 * entries * steps / wall / 1e9,
                "mode": mode,
                "instances": rows_n,
                "steps": steps,
                "wall_s": wall,
                "instance_steps_per_s": rows_n * steps / wall,
                "grid_steps_per_s": steps / wall,
            }
        )
    t0 = time.perf_counter()
    bp = problems.solve_grid_bp(inst)
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
    table["speedup"] = speedup(table, "instance_steps_per_s")
    table["n"] = n
    table["grid"] = f"{len(deltas)}x{len(rhos)}x{trials}"
    return stamp(roofline(table, "gflops", "gb_s", dev, dtype), dev, threads)
