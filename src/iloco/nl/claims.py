"""The NL section's claims (NL1 rates and direction, NL2 ranks and truncation), each a
predicate over the NL tables."""

from __future__ import annotations

import math

import pandas as pd

from iloco.core.claims import Claim
from iloco.nl import macros


def _nl1_stats(tb, data: str) -> pd.DataFrame:
    from iloco.nl import analysis

    return analysis.linear_run_stats(tb["nl1"], data)


def _nl1_loss(tb, s):
    """Largest distance of the fitted loss exponent from −1 (loss ∝ 1/t), Soudry's data."""
    st = _nl1_stats(tb, "soudry")
    return float((st["exponent"] + 1).abs().max()), 0.0


def _nl1_norm(tb, s):
    """Smallest norm growth per decade as a fraction of ln(10)·‖ŵ‖, Soudry's data."""
    return float(_nl1_stats(tb, "soudry")["ratio"].min()), 1.0


def _nl1_angle(tb, s):
    """Largest final angle to the SVM direction against the largest angle halfway (log t)."""
    st = pd.concat([_nl1_stats(tb, "soudry"), _nl1_stats(tb, "random")])
    return float((st["angle"] / st["angle_mid"]).max()), 1.0


def _nl2_rank(tb, s):
    """Median effective rank at the smallest and the largest init scale over the students that
    reached the training-loss tolerance; NaN (the claim fails) at a scale where most did not."""
    t = tb["nl2_teacher"]
    ok = macros.matched(t)
    out = []
    for scale in (t["init_scale"].min(), t["init_scale"].max()):
        r = ok.loc[ok["init_scale"] == scale, "effective_rank"]
        out.append(float(r.median()) if 2 * len(r) > (t["init_scale"] == scale).sum() else math.nan)
    return out[0], out[1]


def _nl2_digits(tb, s):
    """At the smallest rank that keeps the small-init accuracy within a point of its full-rank
    accuracy: small-init accuracy against standard-init accuracy."""
    acc, small, std, _, k = macros.digits_truncation(tb["nl2_digits"])
    return float(acc.loc[k, small]), float(acc.loc[k, std])


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "nl1-loss-rate",
        "NL",
        "On Soudry et al.'s data the logistic and exponential losses decay like $1/t$ (distance of the exponent "
        "from $-1$)",
        ("nl1",),
        _nl1_loss,
        "<=",
        0.2,
        "figures/nl1_separable.pdf",
    ),
    Claim(
        "nl1-norm-growth",
        "NL",
        "The norm grows by $\\ln(10)\\|\\hat w\\|$ per decade of $t$ (fraction reached over the last decade)",
        ("nl1",),
        _nl1_norm,
        ">=",
        0.2,
        "figures/nl1_separable.pdf",
    ),
    Claim(
        "nl1-angle",
        "NL",
        "The angle to the hard-margin SVM direction keeps shrinking (final over halfway angle)",
        ("nl1",),
        _nl1_angle,
        "<",
        0.0,
        "figures/nl1_separable.pdf",
    ),
    Claim(
        "nl2-rank",
        "NL",
        "At equal training loss, small initialization gives a first layer of lower effective rank than large "
        "initialization (medians over the students that reached the tolerance, which must be most of each scale)",
        ("nl2_teacher",),
        _nl2_rank,
        "<",
        0.0,
        "figures/nl2_rich_lazy.pdf",
    ),
    Claim(
        "nl2-digits",
        "NL",
        "Truncated to the same low rank, the small-init digits MLP is at least as accurate as the standard-init one",
        ("nl2_digits",),
        _nl2_digits,
        ">=",
        0.0,
        "figures/nl2_rich_lazy.pdf",
    ),
)
