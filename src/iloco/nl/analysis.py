"""NL analysis shared by the macros, claims and trainers: rates of the NL1 runs (loss exponent,
norm growth per decade) and NL2's ranks and neuron directions. NumPy only."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def norm_slope_per_decade(t: np.ndarray, norm: np.ndarray, decades: float = 1.0) -> float:
    """Least-squares slope of ‖w‖ against log₁₀ t over the last ``decades`` decades."""
    keep = t >= t.max() / 10**decades
    return float(np.polyfit(np.log10(t[keep]), norm[keep], 1)[0])


def loss_exponent(t: np.ndarray, loss: np.ndarray, decades: float = 1.0) -> float:
    """Least-squares slope of log L against log t over the last ``decades`` decades (−1 for 1/t)."""
    keep = t >= t.max() / 10**decades
    return float(np.polyfit(np.log10(t[keep]), np.log10(loss[keep]), 1)[0])


def linear_run_stats(table: pd.DataFrame, data: str) -> pd.DataFrame:
    """Per linear run (instance, loss) of the NL1 table on ``data``: the loss exponent and the
    norm growth per decade as a fraction of ln(10)·‖ŵ‖ (both over the last decade of t), the
    angle to the SVM direction (radians) at the last and at the middle recording, and the final
    normalized margin as a fraction of the SVM's."""
    part = table[(table["model"] == "linear") & (table["data"] == data)]
    rows = []
    for _, g in part.groupby(["instance", "loss_fn"]):
        g = g.sort_values("t")
        t = g["t"].to_numpy()
        rows.append(
            {
                "exponent": loss_exponent(t, g["loss"].to_numpy()),
                "ratio": norm_slope_per_decade(t, g["w_norm"].to_numpy()) / (math.log(10) * g["svm_norm"].iloc[0]),
                "angle": float(g["angle"].iloc[-1]),
                "angle_mid": float(g["angle"].iloc[len(g) // 2]),
                "margin": float(g["margin"].iloc[-1] / g["svm_margin"].iloc[0]),
            }
        )
    return pd.DataFrame(rows, columns=["exponent", "ratio", "angle", "angle_mid", "margin"])


# ----------------------------------------------------------------------------- NL2: rich vs lazy
def effective_rank(W: np.ndarray) -> float:
    """exp of the entropy of the normalized singular values (Roy & Vetterli 2007)."""
    s = np.linalg.svd(W, compute_uv=False)
    p = s / max(s.sum(), 1e-300)
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def stable_rank(W: np.ndarray) -> float:
    """‖W‖_F² / ‖W‖₂²."""
    s = np.linalg.svd(W, compute_uv=False)
    return float((s**2).sum() / max(s[0] ** 2, 1e-300))


def direction_clusters(W: np.ndarray, b: np.ndarray, mass: float = 0.99, cos: float = 0.99) -> int:
    """How many directions the neurons w_j (columns of W, d × m) of a two-layer network align
    into: the neurons carrying a fraction ``mass`` of Σ_j |b_j|‖w_j‖, grouped greedily (by
    decreasing weight) with |cos| ≥ ``cos`` to a group's first neuron."""
    norms = np.linalg.norm(W, axis=0)
    weight = np.abs(b) * norms
    order = np.argsort(-weight)
    keep = order[: int(np.searchsorted(np.cumsum(weight[order]), mass * weight.sum()) + 1)]
    units = W[:, keep] / np.maximum(norms[keep], 1e-300)
    heads: list[np.ndarray] = []
    for u in units.T:
        if not any(abs(u @ h) >= cos for h in heads):
            heads.append(u)
    return len(heads)
