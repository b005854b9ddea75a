"""SP's result tables: the columns each must have and their tabulation from the training shards,
baselines and regularizer minimizers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from iloco.core.engine import STATUS
from iloco.core.errors import IlocoError
from iloco.sp.regularizer import SUPPORT_REL

SP1_COLUMNS = (
    "instance",
    "n",
    "m",
    "k",
    "depth",
    "alpha",
    "dist_bp",
    "dist_l2",
    "dist_xstar",
    "bp_exact",
    "steps",
    "status",
    "device",
    "commit",
    "config_hash",
)


SP2_COLUMNS = (
    "method",
    "depth",
    "alpha",
    "delta",
    "rho",
    "n",
    "m",
    "k",
    "trial",
    "rel_err",
    "success",
    "status",
    "steps",
    "flow_dist",
    "flow_success",
    "wall_time_s",
    "device",
    "commit",
    "config_hash",
)


SGD_COLUMNS = (
    "instance",
    "m",
    "alpha",
    "lr",
    "batch",
    "method",
    "dist_xstar",
    "dist_bp",
    "support",
    "status",
    "device",
)


NOISE_COLUMNS = ("instance", "method", "alpha", "step", "lambda", "rel_err", "sigma", "device")


# --------------------------------------------------------------------------- table
def rel_dist(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """‖x − ref‖₂ / ‖ref‖₂ along the last axis."""
    return np.linalg.norm(x - ref, axis=-1) / np.linalg.norm(ref, axis=-1)


def tabulate(
    inst: dict, base: dict, shards: dict[int, dict], potentials: dict[int, dict] | None = None
) -> pd.DataFrame:
    """One row per (instance, depth, α): distances of the GD limit to x*, BP and min-ℓ2, and,
    where ``potentials`` has the depth, to the minimizer x_Q of the exact implicit regularizer
    Q_α (``dist_q``), with x_Q's own distances to BP and x* (``q_dist_bp``, ``q_dist_xstar``).

    A diverged cell keeps its row (status ``diverged``) with NaN for its distances.
    """
    potentials = potentials or {}
    rows = []
    count, m, n = inst["A"].shape
    k = int((inst["x_star"][0] != 0).sum())
    for depth, sh in sorted(shards.items()):
        x = np.where((sh["status"] == STATUS.index("diverged"))[..., None], np.nan, sh["x"])
        trials = x.shape[0] * x.shape[1]
        pot = potentials.get(depth)
        if pot is not None and not np.array_equal(pot["alphas"], sh["alphas"]):
            raise IlocoError(
                f"sp1: the Q_alpha solutions of depth {depth} are for other alphas than its training shard"
            )
        for i in range(count):
            for j, alpha in enumerate(sh["alphas"]):
                if pot is not None:
                    xq = pot["x"][i, j]
                    q = {
                        "dist_q": float(rel_dist(x[i, j], xq)),
                        "q_dist_bp": float(rel_dist(xq, base["x_bp"][i])),
                        "q_dist_l2": float(rel_dist(xq, base["x_l2"][i])),
                        "q_dist_xstar": float(rel_dist(xq, inst["x_star"][i])),
                        "q_status": str(pot["status"][i, j]),
                        "q_residual": float(pot["residual"][i, j]),
                    }
                else:
                    q = dict.fromkeys(("dist_q", "q_dist_bp", "q_dist_l2", "q_dist_xstar", "q_residual"), np.nan)
                    q["q_status"] = "none"
                rows.append(
                    {
                        "instance": i,
                        "instance_seed": f"{inst['seeds'][i][0]}:{inst['seeds'][i][1]}",
                        "n": n,
                        "m": m,
                        "k": k,
                        "depth": depth,
                        "alpha": float(alpha),
                        "dist_xstar": float(rel_dist(x[i, j], inst["x_star"][i])),
                        "dist_bp": float(rel_dist(x[i, j], base["x_bp"][i])),
                        "dist_l2": float(rel_dist(x[i, j], base["x_l2"][i])),
                        "l1_ratio": float(np.abs(x[i, j]).sum() / np.abs(base["x_bp"][i]).sum()),
                        "bp_dist_xstar": float(rel_dist(base["x_bp"][i], inst["x_star"][i])),
                        "l2_dist_xstar": float(rel_dist(base["x_l2"][i], inst["x_star"][i])),
                        "bp_exact": bool(rel_dist(base["x_bp"][i], inst["x_star"][i]) < 1e-6),
                        "steps": int(sh["steps"][i, j]),
                        "final_loss": float(sh["loss"][i, j]),
                        "status": STATUS[int(sh["status"][i, j])],
                        "device": str(sh["device"]),
                        "wall_time_s": float(sh["wall_time_s"]) / trials,
                        **q,
                    }
                )
    return pd.DataFrame(rows)


def tabulate_grid(
    inst: dict, bp: dict, shards: dict[int, list[dict]], threshold: float, potentials: dict[int, dict] | None = None
) -> pd.DataFrame:
    """One row per (method, grid row): the relative error to x* and whether it is below ``threshold``.

    Basis pursuit (method ``bp``, depth 0) and the exact gradient-flow limit of the depth-L
    diagonal network (``potentials``: depth → ``solve_grid_potential``, the minimizer of Q_α,
    method ``q<L>``) cover every grid row. ``shards`` maps a depth to its GD training shards
    (method ``gd<L>``), each with its ``rows``: the validation slice. A GD row also has
    ``flow_dist``, the relative distance of its limit to the flow limit of the same row
    (‖x_GD − x_Q‖/‖x_Q‖; NaN if diverged or no potential of its depth), and ``flow_success``,
    the flow limit's success there (1.0 or 0.0); the other methods have NaN in both. The wall time of a GD
    row is its shard's training time over its rows.
    """
    rows_out = []
    base = {
        "delta": inst["delta"],
        "rho": inst["rho"],
        "n": np.full(len(inst["m"]), inst["A"].shape[2]),
        "m": inst["m"],
        "k": inst["k"],
        "cell": inst["cell"],
        "trial": inst["trial"],
    }
    seeds = [":".join(str(int(v)) for v in s) for s in inst["seeds"]]
    err = rel_dist(bp["x_bp"], inst["x_star"])
    frame = pd.DataFrame(base)
    frame["instance_seed"] = seeds
    bp_frame = frame.assign(
        method="bp",
        depth=0,
        alpha=np.nan,
        rel_err=err,
        success=err < threshold,
        steps=0,
        final_loss=np.nan,
        status=np.where(bp["bp_status"] == 0, "optimal", "failed"),
        flow_dist=np.nan,
        flow_success=np.nan,
        wall_time_s=bp["lp_time_s"],
        device="cpu",
    )
    rows_out.append(bp_frame)
    for depth, pot in sorted((potentials or {}).items()):
        e = rel_dist(pot["x"], inst["x_star"])
        rows_out.append(
            frame.assign(
                method=f"q{depth}",
                depth=depth,
                alpha=float(pot["alpha"]),
                rel_err=e,
                success=e < threshold,
                steps=0,
                final_loss=np.nan,
                status=pot["status"],
                flow_dist=np.nan,
                flow_success=np.nan,
                wall_time_s=pot["wall_time_s"],
                device="cpu",
            )
        )
    for depth, parts in sorted(shards.items()):
        for sh in parts:
            rows_out.append(_gd_frame(frame, inst, sh, depth, threshold, (potentials or {}).get(depth)))
    return pd.concat(rows_out, ignore_index=True)


def _gd_frame(frame: pd.DataFrame, inst: dict, sh: dict, depth: int, threshold: float, pot: dict | None):
    """The GD rows of one training shard (``tabulate_grid``), with their distance to the flow limit."""
    idx = np.asarray(sh["rows"], dtype=int)
    x = np.where((sh["status"] == STATUS.index("diverged"))[..., None], np.nan, sh["x"])[:, 0]
    e = rel_dist(x, inst["x_star"][idx])
    if pot is not None:
        xq = pot["x"][idx]
        flow = {
            "flow_dist": rel_dist(x, xq),
            "flow_success": (rel_dist(xq, inst["x_star"][idx]) < threshold).astype(float),
        }
    else:
        flow = {"flow_dist": np.nan, "flow_success": np.nan}
    return frame.iloc[idx].assign(
        method=f"gd{depth}",
        depth=depth,
        alpha=float(sh["alphas"][0]),
        rel_err=e,
        success=e < threshold,
        steps=sh["steps"][:, 0],
        final_loss=sh["loss"][:, 0],
        status=[STATUS[int(s)] for s in sh["status"][:, 0]],
        **flow,
        wall_time_s=float(sh["wall_time_s"]) / len(idx),
        device=str(sh["device"]),
    )


def support_size(x: np.ndarray, rel: float = SUPPORT_REL) -> np.ndarray:
    """Entries with |x_i| > rel·max|x| (along the last axis): the numerical sparsity."""
    return (np.abs(x) > rel * np.abs(x).max(axis=-1, keepdims=True)).sum(axis=-1)


def tabulate_sgd(inst: dict, base: dict, out: dict) -> pd.DataFrame:
    """One row per (instance, batch, lr): error of the limit, its distance to BP, its sparsity."""
    rows = []
    k = int((inst["x_star"][0] != 0).sum())
    count, m, n = inst["A"].shape
    for i in range(count):
        for j in range(len(out["lrs"])):
            x = out["x"][i, j]
            diverged = int(out["status"][i, j]) == STATUS.index("diverged")
            rows.append(
                {
                    "instance": i,
                    "instance_seed": f"{inst['seeds'][i][0]}:{inst['seeds'][i][1]}",
                    "n": n,
                    "m": m,
                    "k": k,
                    "depth": int(out["depth"]),
                    "alpha": float(out["alphas"][j]),
                    "lr": float(out["lrs"][j]),
                    "batch": int(out["batches"][j]),
                    "method": "GD" if int(out["batches"][j]) == m else "SGD",
                    "dist_xstar": np.nan if diverged else float(rel_dist(x, inst["x_star"][i])),
                    "dist_bp": np.nan if diverged else float(rel_dist(x, base["x_bp"][i])),
                    "l1_ratio": np.nan if diverged else float(np.abs(x).sum() / np.abs(base["x_bp"][i]).sum()),
                    "support": -1 if diverged else int(support_size(x)),
                    "steps": int(out["steps"][i, j]),
                    "final_loss": float(out["loss"][i, j]),
                    "status": STATUS[int(out["status"][i, j])],
                    "device": str(out["device"]),
                    "wall_time_s": float(out["wall_time_s"]) / out["x"].shape[0] / out["x"].shape[1],
                }
            )
    return pd.DataFrame(rows)


def tabulate_noise(inst: dict, traj: dict, lasso: dict, sigma: float) -> pd.DataFrame:
    """Long table: one row per (instance, method, α or λ, step): GD's trajectory and the Lasso path."""
    rows = []
    count, m, n = inst["A"].shape
    k = int((inst["x_star"][0] != 0).sum())
    common = {"n": n, "m": m, "k": k, "sigma": sigma, "depth": int(traj["depth"])}
    for i in range(count):
        for j, alpha in enumerate(traj["alphas"]):
            for s_idx, st in enumerate(traj["steps"]):
                rows.append(
                    {
                        "instance": i,
                        "method": "GD",
                        "alpha": float(alpha),
                        "step": int(st),
                        "lambda": np.nan,
                        "rel_err": float(traj["err"][i, j, s_idx]),
                        "train_loss": float(traj["train_loss"][i, j, s_idx]),
                        **common,
                    }
                )
        for lam, e in zip(lasso["lambdas"][i], lasso["err"][i], strict=True):
            rows.append(
                {
                    "instance": i,
                    "method": "Lasso",
                    "alpha": np.nan,
                    "step": -1,
                    "lambda": float(lam),
                    "rel_err": float(e),
                    "train_loss": np.nan,
                    **common,
                }
            )
    table = pd.DataFrame(rows)
    table["device"] = str(traj["device"])
    table["wall_time_s"] = float(traj["wall_time_s"]) / (count * len(traj["alphas"]))
    return table
