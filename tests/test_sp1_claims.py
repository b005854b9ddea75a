"""SP1's claims that compare a limit with a theory hold at every setting they speak of (max, not median)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from iloco.core import claims

SETTINGS = {"sp1_bp_within": 1e-2, "sp1_l2_within": 1e-2, "lr_recover_within": 5e-2}
ALPHAS = (1e-4, 1e-2, 10.0)


def _table(instances: int = 8) -> pd.DataFrame:
    """An SP1 table whose every run agrees with its theory to 1e-3."""
    rows = [
        {"instance": i, "depth": depth, "alpha": a, "dist_q": 1e-3, "dist_bp": 1e-3, "dist_l2": 1e-3}
        for depth in (2, 3)
        for i in range(instances)
        for a in ALPHAS
    ]
    return pd.DataFrame(rows).assign(status="converged", q_status="optimal")


def _holds(name: str, table: pd.DataFrame) -> bool:
    claim = next(c for c in claims.all_claims() if c.name == name)
    return claim.holds(*claim.measure({"sp1": table}, SETTINGS))


def _spoil(table: pd.DataFrame, col: str, alpha: float, value: float, depth: int = 2) -> pd.DataFrame:
    out = table.copy()
    at = np.flatnonzero((out["depth"] == depth) & (out["alpha"] == alpha))[0]
    out.loc[at, col] = value
    return out


def test_one_far_setting_fails_the_q_alpha_claim():
    """One (instance, α) 10 % off its Q_α minimizer: the median is fine, the claim is not."""
    good = _table()
    assert _holds("sp1-q-alpha", good)
    bad = _spoil(good, "dist_q", 1e-2, 0.1, depth=3)
    assert bad["dist_q"].median() <= 1e-2
    assert not _holds("sp1-q-alpha", bad)


def test_one_far_instance_fails_the_bp_and_l2_claims():
    good = _table()
    assert _holds("sp1-small-alpha-l1", good) and _holds("sp1-large-alpha-l2", good)
    assert not _holds("sp1-small-alpha-l1", _spoil(good, "dist_bp", min(ALPHAS), 0.5))
    assert not _holds("sp1-large-alpha-l2", _spoil(good, "dist_l2", max(ALPHAS), 0.5))


def test_a_diverged_run_at_the_smallest_alpha_fails_the_bp_claim():
    """A diverged run has no limit (NaN distances): it cannot count as agreeing."""
    assert not _holds("sp1-small-alpha-l1", _spoil(_table(), "dist_bp", min(ALPHAS), np.nan))
