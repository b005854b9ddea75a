"""The SP section's claims (SP1 limits, SP2 transitions and GD against the flow limit, SP3 depth,
SGD, early stopping), each a predicate over the SP tables."""

from __future__ import annotations

import math

from iloco.core.claims import Claim
from iloco.sp import macros


def _sp1_worst(tb, depth: int, col: str, pick: str) -> float:
    """Largest ``col`` over the instances at the smallest (``pick`` = min) or largest α of a
    depth: a limit compared with a theory must agree on every instance, not on the median one
    (NaN, so failing, if a run there diverged)."""
    t = tb["sp1"]
    t = t[t["depth"] == depth]
    at = t[t["alpha"] == (t["alpha"].min() if pick == "min" else t["alpha"].max())]
    return float(at[col].max(skipna=False))


def _sp1_bp(tb, s):
    return _sp1_worst(tb, 2, "dist_bp", "min"), s["sp1_bp_within"]


def _sp1_l2(tb, s):
    return _sp1_worst(tb, 2, "dist_l2", "max"), s["sp1_l2_within"]


def _sp1_q(tb, s):
    """Largest relative distance between a GD limit and the minimizer of Q_α over every converged
    run (every instance, depth and α): a median over all runs hid a step bias of 2 % at two α.
    A run that hit its step budget has no limit yet (the text counts them)."""
    t = tb["sp1"]
    done = t[t["status"] == "converged"]
    return (float(done["dist_q"].max(skipna=False)) if len(done) else math.nan), 0.0


def _sp2_theory(tb, s):
    t = tb["sp2"]
    tr, theory = macros.sp2_transitions(t[t["method"] == "bp"])
    return float((tr["bp"] - theory).dropna().abs().mean()), 0.0


#: Smallest share of the validation slice on which GD's success decision must be the flow limit's.
SP2_AGREE = 0.9


def _sp2_gd_flow(tb, s):
    """Smallest share, over the depths, of the slice runs whose success decision (relative error
    to x* below sp2.success_tol) is the exact flow limit's: every run counts, one that hit its
    step budget with the error it had when stopped, a diverged one as a disagreement (NaN, so
    failing, if no depth has a slice)."""
    t = tb["sp2"]
    depths = sorted(int(m[2:]) for m in t["method"].unique() if m.startswith("gd"))
    shares = [float(macros.sp2_slice(t, d)["agree"].mean()) for d in depths]
    return (min(shares) if shares else math.nan), SP2_AGREE


def _sp3_more_is_less(tb, s):
    """Smallest ratio between the α* of consecutive depths, α* the largest α up to which the
    median minimizer of the exact potential Q^L_α is within bp_within of basis pursuit; > 1
    means α* grows with depth (Woodworth et al.). The GD limits' α* is in the text: at small α
    deep runs need more steps than the quick scale gives."""
    t = tb["sp1"]
    stars = [macros.alpha_star(t, d, "q_dist_bp", s["sp1_bp_within"]) for d in sorted(t["depth"].unique())]
    if len(stars) < 2 or any(math.isnan(a) for a in stars):
        return math.nan, 1.0
    return min(b / a for a, b in zip(stars, stars[1:], strict=False)), 1.0


def _sp3_sgd(tb, s):
    gd, sgd = macros.sgd_vs_gd(tb["sp3_sgd"])
    return float(sgd["dist_xstar"]), float(gd["dist_xstar"])


def _sp3_lasso(tb, s):
    _, best, lasso = macros.early_stopping(tb["sp3_noise"])
    return float((best / lasso).median()), 1.0


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "sp1-small-alpha-l1",
        "SP",
        "At the smallest $\\alpha$, the depth-2 GD limit is basis pursuit "
        "(largest relative distance over the instances)",
        ("sp1",),
        _sp1_bp,
        "<=",
        0.0,
        "figures/sp1_alpha.pdf",
    ),
    Claim(
        "sp1-large-alpha-l2",
        "SP",
        "At the largest $\\alpha$, the depth-2 GD limit is the minimum-$\\ell_2$ interpolant "
        "(largest relative distance over the instances)",
        ("sp1",),
        _sp1_l2,
        "<=",
        0.0,
        "figures/sp1_alpha.pdf",
    ),
    Claim(
        "sp1-q-alpha",
        "SP",
        "The GD limit is the minimizer of the exact potential $Q_\\alpha$ "
        "(largest relative distance over every converged run: instances, depths and $\\alpha$)",
        ("sp1",),
        _sp1_q,
        "<=",
        1e-2,
        "figures/sp1_alpha.pdf",
    ),
    Claim(
        "sp2-bp-theory",
        "SP",
        "The 50\\,\\% transition of basis pursuit follows the statistical-dimension curve "
        "(mean absolute gap in $\\rho$)",
        ("sp2",),
        _sp2_theory,
        "<=",
        0.1,
        "figures/sp2_phase.pdf",
    ),
    Claim(
        "sp2-gd-flow",
        "SP",
        "On the validation slice, GD's success decision is that of the exact gradient-flow limit "
        "(smallest share over the depths; runs that hit the step budget count as stopped)",
        ("sp2",),
        _sp2_gd_flow,
        ">=",
        0.0,
        "figures/sp2_phase.pdf",
    ),
    Claim(
        "sp3-more-is-less",
        "SP",
        "The implicit regularizer of deeper diagonal networks selects basis pursuit up to larger $\\alpha$ "
        "(smallest ratio of $\\alpha^\\star$ between consecutive depths, minimizers of $Q^L_\\alpha$)",
        ("sp1",),
        _sp3_more_is_less,
        ">",
        0.0,
        "figures/sp3_depth_sgd_noise.pdf",
    ),
    Claim(
        "sp3-sgd-sparser",
        "SP",
        "SGD ends closer to $x^\\star$ than GD at the same $\\alpha$ and step (Pesme et al.)",
        ("sp3_sgd",),
        _sp3_sgd,
        "<",
        0.0,
        "figures/sp3_depth_sgd_noise.pdf",
    ),
    Claim(
        "sp3-early-stopping",
        "SP",
        "Early-stopped GD on noisy data is as accurate as the best Lasso (median error ratio)",
        ("sp3_noise",),
        _sp3_lasso,
        "<=",
        0.1,
        "figures/sp3_depth_sgd_noise.pdf",
    ),
)
