"""The SP2 grid (cells, shards and their memory, torch-free) and the ℓ1 phase transition: the
statistical-dimension curve and the 50 % transitions of a table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from iloco.core.errors import IlocoError


def statistical_dimension_l1(s: float) -> float:
    """δ(D(‖·‖₁, x))/n for a k-sparse x in ℝⁿ with s = k/n, n → ∞ (Amelunxen, Lotz, McCoy and
    Tropp 2014, Prop. 4.5): ψ(s) = inf_{τ≥0} s(1 + τ²) + (1 − s)·2[(1 + τ²)Φᶜ(τ) − τφ(τ)].

    The infimum is at the root of sτ = 2(1 − s)(φ(τ) − τΦᶜ(τ)), found by Brent's method.
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    if s <= 0:
        return 0.0
    if s >= 1:
        return 1.0
    tau = brentq(lambda t: s * t - 2 * (1 - s) * (norm.pdf(t) - t * norm.sf(t)), 0.0, 60.0, xtol=1e-14)
    return s * (1 + tau**2) + 2 * (1 - s) * ((1 + tau**2) * norm.sf(tau) - tau * norm.pdf(tau))


def l1_transition(delta: float) -> float:
    """The theoretical ℓ1 phase transition in the convention ρ = k/m: the ρ at which
    m = δn equals the statistical dimension of the descent cone, ψ(ρδ) = δ (ALMT 2014; this
    curve is Donoho and Tanner's weak threshold: ρ ≈ 0.3857 at δ = 0.5)."""
    from scipy.optimize import brentq

    if not 0 < delta <= 1:
        raise IlocoError(f"sp2: delta must lie in (0, 1], got {delta}")
    if delta == 1:
        return 1.0
    s = brentq(lambda s: statistical_dimension_l1(s) - delta, 1e-14, delta, xtol=1e-15)
    return s / delta


def transition_rho(rhos: np.ndarray, prob: np.ndarray, level: float = 0.5) -> float:
    """Where the success probability, decreasing in ρ, first falls below ``level``, by linear
    interpolation between grid points; the grid's ends when it never crosses (lowest ρ if it
    starts below, NaN if it never falls below)."""
    order = np.argsort(rhos)
    r, p = np.asarray(rhos, dtype=float)[order], np.asarray(prob, dtype=float)[order]
    if p[0] < level:
        return float(r[0])
    for i in range(1, len(r)):
        if p[i] < level:
            return float(r[i - 1] + (p[i - 1] - level) / (p[i - 1] - p[i]) * (r[i] - r[i - 1]))
    return float("nan")


def transitions(table: pd.DataFrame) -> pd.DataFrame:
    """Per method and δ: the empirical 50 % transition ρ₅₀ and the theoretical ℓ1 one."""
    out = []
    prob = table.groupby(["method", "delta", "rho"], as_index=False)["success"].mean()
    for (method, delta), g in prob.groupby(["method", "delta"]):
        out.append(
            {
                "method": method,
                "delta": delta,
                "rho50": transition_rho(g["rho"].to_numpy(), g["success"].to_numpy()),
                "rho_theory": l1_transition(float(delta)),
            }
        )
    return pd.DataFrame(out)


def l1_transition_curve(points: int = 99) -> pd.DataFrame:
    """The theoretical ℓ1 transition ρ(δ) on a fine δ grid, for drawing."""
    deltas = np.linspace(0.01, 0.99, points)
    return pd.DataFrame({"delta": deltas, "rho": [l1_transition(float(d)) for d in deltas]})


#: Bytes per float64 entry, and the batched tensors of one GD row besides A (m × n):
#: u, v, their gradients and temporaries (≈ 8 vectors of length n per α) and y, r (m).
FLOAT_BYTES = 8


VECTORS_PER_ROW = 8


def cells(n: int, deltas: list[float], rhos: list[float]) -> list[tuple[float, float, int, int]]:
    """(δ, ρ, m, k) for every grid cell, δ-major."""
    out = []
    for d in deltas:
        m = max(1, min(n, round(d * n)))
        for r in rhos:
            out.append((d, r, m, max(1, min(m, round(r * m)))))
    return out


def shard_rows(n_rows: int, shards: int, shard: int) -> range:
    """Rows of shard ``shard`` (0-based) when ``n_rows`` rows are cut into ``shards`` contiguous parts."""
    size = -(-n_rows // shards)
    return range(shard * size, min(n_rows, (shard + 1) * size))


def memory_bytes(n: int, deltas: list[float], rhos: list[float], trials: int, shards: int = 1) -> int:
    """Bytes of the batched tensors of the largest training shard (float64, one α per row).

    Every row is padded to the largest m of the grid, so A alone is rows × m_max × n.
    """
    rows = len(deltas) * len(rhos) * trials
    per_shard = -(-rows // shards)
    m_max = max(m for _, _, m, _ in cells(n, deltas, rhos))
    return per_shard * (m_max * n + VECTORS_PER_ROW * n + 2 * m_max) * FLOAT_BYTES


def validation_rows(delta: np.ndarray, rho: np.ndarray, trial: np.ndarray, validation: dict) -> np.ndarray:
    """The grid rows of SP2's GD validation slice (config ``sp2.validation``): the first
    ``trials`` instances of every cell whose δ is in ``deltas`` and ρ in ``rhos``, in grid order."""
    pick = (
        np.isin(np.round(np.asarray(delta, dtype=float), 12), np.round(validation["deltas"], 12))
        & np.isin(np.round(np.asarray(rho, dtype=float), 12), np.round(validation["rhos"], 12))
        & (np.asarray(trial) < validation["trials"])
    )
    return np.flatnonzero(pick)


def validation_size(deltas: list[float], rhos: list[float], trials: int, validation: dict) -> int:
    """Rows of the validation slice of a grid (torch-free, from the config alone)."""
    d = sum(any(abs(v - g) < 1e-12 for g in deltas) for v in validation["deltas"])
    r = sum(any(abs(v - g) < 1e-12 for g in rhos) for v in validation["rhos"])
    return d * r * min(trials, validation["trials"])
