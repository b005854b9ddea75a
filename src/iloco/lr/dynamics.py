"""LR2: singular values and effective rank of the end-to-end matrix along training from small
initialization (incremental learning; closest approach to the best rank-k approximation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from iloco.core.engine import STATUS, StopRule, device_label
from iloco.lr.model import initial_state, product, step_sizes, train
from iloco.lr.problems import N_SV, effective_rank, make_instances, rel_error
from iloco.lr.spec import SEED_OFFSET


# --------------------------------------------------------------------------- LR2: dynamics
def spectrum_instance(d: int, decay: float, seed: int) -> dict:
    """A fully observed target with a geometric spectrum: W* = U diag(decay^k) Vᵀ (Haar U, V),
    ‖W*‖_F = d; all d² entries observed (a completion instance with m = d², full rank)."""
    rng = np.random.default_rng([seed, 0])
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    s = decay ** np.arange(d)
    W = (U * s) @ V.T
    return {
        "task": np.array("completion"),
        "W_star": (W * (d / np.linalg.norm(W)))[None],
        "order": rng.permutation(d * d)[None],
        "A": np.empty((1, 0, d * d)),
        "observations": np.array([d * d]),
        "seeds": np.array([[seed, 0]]),
    }


def best_rank_k(W: np.ndarray, kmax: int) -> list[np.ndarray]:
    """Best rank-k approximations (Eckart–Young) W_0 = 0, W_1, …, W_kmax."""
    U, S, Vh = np.linalg.svd(W)
    return [(U[:, :k] * S[:k]) @ Vh[:k] for k in range(kmax + 1)]


def dynamics(
    inst: dict,
    setting: str,
    depth: int,
    alpha: float,
    lr: float,
    stop: StopRule,
    every: int,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    kmax: int = 5,
) -> pd.DataFrame:
    """Train one cell (instance 0, first observation count) and record the product every
    ``every`` steps: test error, effective rank, leading singular values and the relative
    distance ‖W(t) − W*_k‖_F / ‖W*‖_F to each best rank-k approximation of the target."""
    sub = {k: (v[:1] if k in ("W_star", "order", "A", "seeds") else v) for k, v in inst.items()}
    sub["observations"] = inst["observations"][:1]
    trace: list = []
    res = train(sub, depth, [alpha], stop, lr, device, dtype, seed=seed, progress=False, trace=trace, trace_every=every)
    W_star = sub["W_star"][0]
    d = W_star.shape[0]
    targets = best_rank_k(W_star, kmax)
    norm = np.linalg.norm(W_star)
    eta = float(step_sizes(sub, depth, lr)[0, 0])
    init = product(initial_state(sub, depth, [alpha], lr, seed, torch.device("cpu"), dtype), depth)[0, 0]
    rank = int(np.linalg.matrix_rank(W_star))
    rows = []
    points = [(0, init)] + [(t, W[0, 0]) for t, _, W in trace]
    for t, W in points:
        sv = np.linalg.svd(W, compute_uv=False)
        row = {
            "setting": setting,
            "d": d,
            "observations": int(sub["observations"][0]),
            "rank": rank,
            "depth": depth,
            "alpha": alpha,
            "step": t,
            "tau": depth * eta * t,
            "rel_error": float(rel_error(W, W_star)),
            "effective_rank": float(effective_rank(sv)),
        }
        row.update({f"sv{k + 1}": float(sv[k]) for k in range(min(N_SV, d))})
        row.update({f"dist_rank{k}": float(np.linalg.norm(W - T) / norm) for k, T in enumerate(targets)})
        rows.append(row)
    out = pd.DataFrame(rows)
    out["final_status"] = STATUS[int(res.status[0, 0])]
    out["final_steps"] = int(res.steps[0, 0])
    out["wall_time_s"] = res.elapsed_s
    out["device"] = device_label(device)
    return out


# --------------------------------------------------------------------------- jobs


def run_dynamics(cfg: dict, seed: int, device: torch.device) -> list[pd.DataFrame]:
    """LR2: traces of every depth on (a) an under-sampled low-rank completion instance and
    (b) a fully observed target with a geometric spectrum (best rank-k approximations)."""
    s = seed + SEED_OFFSET["dynamics"]
    settings = {
        "completion": make_instances("completion", cfg["d"], cfg["rank"], [cfg["observations"]], 1, s),
        "spectrum": spectrum_instance(cfg["d"], cfg["decay"], s),
    }
    stop = StopRule(cfg["max_steps"], cfg["tol_loss"], 0.0, cfg["every"])
    return [
        dynamics(inst, name, depth, cfg["alpha"], cfg["lr"], stop, cfg["every"], device, seed=s, kmax=cfg["kmax"])
        for name, inst in settings.items()
        for depth in cfg["depths"]
    ]
