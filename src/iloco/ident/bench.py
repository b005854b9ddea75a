"""ID benchmark: shallow-network identification batched behind one oracle against a loop over
single networks, next to the machine's matmul rate; and the student trainer (ID3, NL2) at
ID3's paper shape per student, batched against a per-student loop, with its roofline."""

from __future__ import annotations

import time

import pandas as pd
import torch

from iloco.core import engine
from iloco.core.bench import matmul_gflops, roofline, speedup, stamp

#: the student trainer's benchmark: ID3's paper-scale student (n inputs, width) and GD steps
STUDENT_N, STUDENT_WIDTH, STUDENT_CELLS, STUDENT_STEPS = 2000, 100, 4, 10


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
    return stamp(pd.concat([table, student_trainer(instances, d, dev)], ignore_index=True), dev, threads)


def student_trainer(students: int, d: int, dev: torch.device) -> pd.DataFrame:
    """GD steps per second of the student trainer (``chain.train_students``, ID3's and NL2's) on
    ``students`` tanh students of ID3's paper shape (``STUDENT_N`` inputs in R^d, width
    ``STUDENT_WIDTH``; rows of ``STUDENT_CELLS`` init scales sharing their data, as ID3 runs
    them) against a loop over single students, same data and steps; with the flop rate, the
    bytes moved (seven passes over the n × width activations) and the roofline's share."""
    from iloco.ident import chain

    rows_, cells = max(1, students // STUDENT_CELLS), min(students, STUDENT_CELLS)
    n, m, steps = STUDENT_N, STUDENT_WIDTH, STUDENT_STEPS
    X = chain.gaussian_inputs(rows_, n, d, 0, 1).to(dev)
    y = torch.tanh(X[..., 0])
    W, c, b = (t.to(dev) for t in chain.init_students(rows_, cells, d, m, [1.0] * cells, 0, 2))
    kw = {"activation": "tanh", "optimizer": "gd", "lr": 0.1, "progress": False}
    kw["stop"] = engine.StopRule(steps, 0.0, 0.0, steps)
    out = []
    for mode in ("batched", "per-student loop"):
        jobs = [(slice(0, rows_), slice(0, cells))]
        if mode != "batched":
            jobs = [(slice(i, i + 1), slice(j, j + 1)) for i in range(rows_) for j in range(cells)]
        t0 = time.perf_counter()
        for rs, cs in jobs:
            chain.train_students(X[rs], y[rs], W[rs, cs], c[rs, cs], b[rs, cs], **kw)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        k = rows_ * cells
        out.append(
            {
                "benchmark": "id_student_trainer",
                "mode": mode,
                "d": d,
                "m": m,
                "n": n,
                "instances": k,
                "steps": steps,
                "wall_s": wall,
                "student_steps_per_s": k * steps / wall,
                "gflops": (4 * n * (d + 1) * m + 4 * n * m) * k * steps / wall / 1e9,
                "gb_s": 7 * 8 * n * m * k * steps / wall / 1e9,
            }
        )
    table = pd.DataFrame(out)
    table["speedup"] = speedup(table, "student_steps_per_s")
    return roofline(table, "gflops", "gb_s", dev, torch.float64)
