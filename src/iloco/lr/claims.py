"""The LR section's claims (depth against the nuclear norm, RMSprop against GD, incremental
learning, infinite depth, GD following the flow), each a predicate over the LR tables."""

from __future__ import annotations

import math

import pandas as pd

from iloco.core.claims import Claim
from iloco.lr import macros


# --------------------------------------------------------------------------- measures
def _lr_first(t: pd.DataFrame, within: float) -> tuple[float, float]:
    """(smallest count from which the best depth ≥ 3 recovers, the nuclear norm's); a method
    that never recovers counts as infinitely many observations."""
    gd = t[t["method"] == "gd"]  # the claim is about gradient descent
    gd = gd[gd["alpha"] == gd["alpha"].min()]

    def first(rows: pd.DataFrame) -> float:
        med = rows.groupby("observations")["rel_error"].median()
        m = macros.first_recovering(pd.Series(med.index), pd.Series(med.values), within)
        return math.inf if math.isnan(m) else float(m)

    deep_rows = gd[gd["depth"] >= 3]
    best = min((first(g) for _, g in deep_rows.groupby("depth")), default=math.inf)
    return best, first(t[t["method"] == "nuclear"])


def _lr_comp(tb, s):
    return _lr_first(tb["lr_completion"], s["lr_recover_within"])


def _lr_sens(tb, s):
    return _lr_first(tb["lr_sensing"], s["lr_recover_within"])


def _lr_rmsprop_agrees(tb, s):
    """Share of paired completion runs (same instance, count, depth, α) on which normalized
    RMSprop and GD agree on whether W* is recovered."""
    t = tb["lr_completion"]
    key = ["instance", "observations", "depth", "alpha"]
    ok = t.assign(ok=t["rel_error"] <= s["lr_recover_within"])
    gd = ok[ok["method"] == "gd"].set_index(key)["ok"]
    rms = ok[ok["method"] == "rmsprop"].set_index(key)["ok"]
    both = gd.index.intersection(rms.index)
    if both.empty:
        return math.nan, 1.0
    return float((gd[both] == rms[both]).mean()), 1.0


def _lr_infinite(tb, s):
    """Median error of the deepest flow (N = ∞ when run) against that of the shallowest, at the
    largest observation count. Near the 2dr − r² degrees of freedom (paper scale: d = 20, m = 90
    for 76) deep flows fit matrices of lower effective rank far from W*, so the claim speaks of
    the count with the most observations; the text gives every count (``LRthreeVerdict``)."""
    fd = tb["lr_flow_depths"]
    fd = fd[fd["observations"] == fd["observations"].max()]
    med = fd.groupby("depth")["rel_error"].median()
    return float(med.iloc[-1]), float(med.iloc[0])  # N = ∞ (largest) against N = 1 (smallest)


def _lr_gd_flow_order(tb, s):
    """Smallest fitted order of the GD-to-flow gap in the step size over depths (Euler: 1)."""
    orders = []
    for _, h in tb["lr_flow_gd"].groupby("depth"):
        h = h.sort_values("lr")
        orders.append(
            math.log(h["max_gap"].iloc[-1] / h["max_gap"].iloc[0]) / math.log(h["lr"].iloc[-1] / h["lr"].iloc[0])
        )
    return min(orders), 1.0


def _lr_incremental(tb, s):
    """1 if the singular values of the deepest product reach half their final value one after
    the other, largest first (else 0)."""
    return float(macros.lr_incremental(macros.lr_half_steps(tb["lr_dynamics"]))), 1.0


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "lr1-completion-depth",
        "LR",
        "In matrix completion, a depth-$\\ge3$ factorization recovers $W^\\star$ from fewer observations "
        "than the nuclear norm (Arora et al.)",
        ("lr_completion",),
        _lr_comp,
        "<",
        0.0,
        "figures/lr1_completion.pdf",
    ),
    Claim(
        "lr1-sensing-depth",
        "LR",
        "In matrix sensing, a depth-$\\ge3$ factorization recovers from no more measurements than the nuclear norm",
        ("lr_sensing",),
        _lr_sens,
        "<=",
        0.0,
        "figures/lr1_completion.pdf",
    ),
    Claim(
        "lr1-rmsprop-agrees",
        "LR",
        "Normalized RMSprop, the optimizer of Arora et al., and GD agree on which completion problems are "
        "solved (share of paired runs)",
        ("lr_completion",),
        _lr_rmsprop_agrees,
        ">=",
        0.1,
        "figures/lr1_completion.pdf",
    ),
    Claim(
        "lr2-incremental",
        "LR",
        "From small initialization the singular values of the deepest product are learned one at a time, largest first",
        ("lr_dynamics",),
        _lr_incremental,
        ">=",
        0.0,
        "figures/lr2_dynamics.pdf",
    ),
    Claim(
        "lr3-infinite-depth",
        "LR",
        "With the most observations, the completion error of the $N=\\infty$ flow is below that of $N=1$ "
        "(median over instances; every count is in the text)",
        ("lr_flow_depths",),
        _lr_infinite,
        "<",
        0.0,
        "figures/lr3_flow.pdf",
    ),
    Claim(
        "lr3-gd-follows-flow",
        "LR",
        "Factorized GD from balanced factors follows the end-to-end flow with a gap of first order in the step",
        ("lr_flow_gd",),
        _lr_gd_flow_order,
        ">=",
        0.3,
        "figures/lr3_flow.pdf",
    ),
)
