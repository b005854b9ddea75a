"""The SP2 phase-transition grid, without heavy imports (the config check uses it before any job).

A cell (δ, ρ) of the grid has m = round(δ n) measurements and a k = round(ρ m)-sparse ground
truth (both at least 1); the table records the m and k actually used.
"""

from __future__ import annotations

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
