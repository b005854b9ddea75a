"""LR1's result table: the columns it must have and its tabulation from the training shards and
the nuclear-norm baseline (paired instances)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from iloco.core.engine import STATUS
from iloco.lr.problems import N_SV, effective_rank, rel_error

LR1_COLUMNS = (
    "task",
    "instance",
    "d",
    "rank",
    "observations",
    "method",
    "depth",
    "alpha",
    "lr",
    "rms_beta",
    "rms_eps",
    "rel_error",
    "mse",
    "effective_rank",
    "steps",
    "status",
    "device",
    "commit",
    "config_hash",
)


# --------------------------------------------------------------------------- table
def _row_metrics(W: np.ndarray, W_star: np.ndarray, d: int) -> dict:
    if not np.all(np.isfinite(W)):
        out = {"rel_error": math.nan, "mse": math.nan, "effective_rank": math.nan, "nuclear_norm": math.nan}
        out.update({f"sv{k + 1}": math.nan for k in range(min(N_SV, d))})
        return out
    sv = np.linalg.svd(W, compute_uv=False)
    out = {
        "rel_error": float(rel_error(W, W_star)),
        "mse": float(np.mean((W - W_star) ** 2)),
        "effective_rank": float(effective_rank(sv)),
        "nuclear_norm": float(sv.sum()),
    }
    out.update({f"sv{k + 1}": float(sv[k]) for k in range(min(N_SV, d))})
    return out


def tabulate(inst: dict, base: dict | None, shards: list[dict]) -> pd.DataFrame:
    """One row per (instance, observation count, method, depth, α), and one per (instance,
    count) for the nuclear-norm baseline (method ``nuclear``, depth and α empty): test error
    over all entries (relative Frobenius and MSE), effective rank, leading singular values,
    steps, final loss (the mean squared residual over the observations, Arora et al.'s
    convention: :func:`make_step`), status and wall time; ``lr`` (gd: the fraction of 1/κ; rmsprop: η) and
    rmsprop's ``rms_beta``, ``rms_eps``. Rows of the same instance and count are paired."""
    task = str(inst["task"])
    count, d = inst["W_star"].shape[:2]
    obs = inst["observations"]
    rank = int(np.linalg.matrix_rank(inst["W_star"][0]))
    rows = []

    def common(i, j):
        return {
            "task": task,
            "instance": i,
            "instance_seed": f"{inst['seeds'][i][0]}:{inst['seeds'][i][1]}",
            "d": d,
            "rank": rank,
            "observations": int(obs[j]),
        }

    if base is not None:
        for i in range(count):
            for j in range(len(obs)):
                row = common(i, j)
                row.update(method="nuclear", depth=math.nan, alpha=math.nan, lr=math.nan)
                row.update(rms_beta=math.nan, rms_eps=math.nan)
                row.update(_row_metrics(base["W_nuc"][i, j], inst["W_star"][i], d))
                row.update(
                    steps=0,
                    final_loss=math.nan,
                    status="converged" if base["status"][i, j] == 0 else "failed",
                    device="cpu",
                    wall_time_s=float(base["solve_time_s"][i, j]),
                    solver=f"SCS eps={float(base['eps']):g}",
                )
                rows.append(row)
    for sh in shards:
        alphas, method = sh["alphas"], str(sh["method"])
        runs, cells = sh["W"].shape[:2]  # an RMSprop shard may cover the first instances only
        per_trial = float(sh["wall_time_s"]) / (runs * cells)
        for i in range(runs):
            for c in range(cells):
                j, a = divmod(c, len(alphas))
                diverged = sh["status"][i, c] == STATUS.index("diverged")
                W = np.full((d, d), np.nan) if diverged else sh["W"][i, c]
                row = common(i, j)
                row.update(method=method, depth=int(sh["depth"]), alpha=float(alphas[a]), lr=float(sh["lr"]))
                row.update({f"rms_{k}": float(sh[k]) if method == "rmsprop" else math.nan for k in ("beta", "eps")})
                row.update(_row_metrics(W, inst["W_star"][i], d))
                row.update(
                    steps=int(sh["steps"][i, c]),
                    final_loss=float(sh["loss"][i, c]),
                    status=STATUS[int(sh["status"][i, c])],
                    device=str(sh["device"]),
                    wall_time_s=per_trial,
                    solver="",
                )
                rows.append(row)
    return pd.DataFrame(rows)
