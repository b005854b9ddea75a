"""NL benchmark: the NL1 trainer batched over data sets and losses against a per-trial loop,
next to the machine's matmul rate."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from iloco.core import engine
from iloco.core.bench import matmul_gflops, speedup, stamp


def nl_trainer(instances: int, n: int, d: int, steps: int, device: str, threads: int) -> pd.DataFrame:
    """GD steps per second of the NL1 trainer (separable data × two losses as one batch)
    against a loop over single trials, same data and steps; with the achieved GFLOP/s
    (2 batched matrix-vector products of n × d per trial and step) and the matmul rate."""
    from iloco.nl import separable

    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    data = [separable.random_separable(n, d, 0.1, seed=i) for i in range(instances)]
    Z = torch.as_tensor(np.stack([y[:, None] * X for X, y in data]), device=dev)
    losses = ["logistic", "exp"]
    trials = instances * len(losses)
    rows = []
    for mode in ("batched", "per-trial loop"):
        t0 = time.perf_counter()
        if mode == "batched":
            separable.train_linear(Z, losses, 1.0, [steps])
        else:
            for i in range(instances):
                for loss in losses:
                    separable.train_linear(Z[i : i + 1], [loss], 1.0, [steps])
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
    table["speedup"] = speedup(table, "trial_steps_per_s")
    table["matmul_gflops"] = matmul_gflops(dev, torch.float64)
    return stamp(table, dev, threads)
