"""Thresholds on a sorted grid, shared by the families' macros and claims: from which grid
point on (or up to which) a median stays within a bound."""

from __future__ import annotations

import math

import pandas as pd


def threshold_below(alpha: pd.Series, dist: pd.Series, within: float) -> float:
    """Largest α such that the median distance is ≤ ``within`` at it and at every smaller α
    of the grid; NaN if already the smallest α misses."""
    best = math.nan
    for a, d in sorted(zip(alpha, dist, strict=True)):
        if d > within:
            break
        best = a
    return best


def threshold_above(alpha: pd.Series, dist: pd.Series, within: float) -> float:
    """Smallest α such that the median distance is ≤ ``within`` at it and every larger α."""
    best = math.nan
    for a, d in sorted(zip(alpha, dist, strict=True), reverse=True):
        if d > within:
            break
        best = a
    return best
