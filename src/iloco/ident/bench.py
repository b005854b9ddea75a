"""ID benchmark: shallow-network identification batched behind one oracle against a loop over
single networks, next to the machine's matmul rate."""

from __future__ import annotations

import time

import pandas as pd
import torch

from iloco.core import engine
from iloco.core.bench import matmul_gflops, speedup, stamp


def id_identify(instances: int, d: int, m: int, n_hessians: int, device: str, threads: int) -> pd.DataFrame:
    """Networks identified per second (ID1 method at d, m, N_h, central differences): all
    instances behind one oracle as one batch, against a loop over single instances on the same
    networks; with the share of each stage and the machine's matmul rate for scale."""
    from iloco.ident import networks, shallow

    torch.set_num_threads(threads)
    dev = engine.resolve_device(device)
    nets = networks.shallow_networks(instances, d, m, "tanh", 0.0, seed=0, device=dev)
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
                networks.ShallowNets(nets.A[i : i + 1], nets.theta[i : i + 1], nets.b[i : i + 1], "tanh")
                for i in range(instances)
            ]
        for part in parts:
            res = shallow.identify_shallow(networks.oracle_of(part), m, n_hessians, restarts=10 * m, **kw)
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
    table["speedup"] = speedup(table, "instances_per_s")
    table["matmul_gflops"] = matmul_gflops(dev, torch.float64)
    return stamp(table, dev, threads)
