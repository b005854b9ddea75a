"""The paper: LaTeX macros generated from result tables, and the PDF build.

Every number in the paper's text is one of these macros; none is typed by hand.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from iloco.errors import IlocoError
from iloco.io import atomic_path

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
ID1_COLUMNS = (
    "sweep",
    "d",
    "m",
    "nonortho",
    "noise",
    "h",
    "n_hessians",
    "recovered",
    "complete",
    "claimed_complete",
    "uniform_rel_err",
    "queries",
    "device",
    "commit",
)
ID2_COLUMNS = (
    "d",
    "m0",
    "m1",
    "n_hessians",
    "radius",
    "first_frac",
    "entangled_frac",
    "complete",
    "span_error",
    "queries",
    "device",
)
ID3_CHAIN_COLUMNS = (
    "teacher",
    "d",
    "teacher_width",
    "student_width",
    "init_scale",
    "train_loss",
    "student_vs_teacher_mean",
    "method",
    "width",
    "compression",
    "vs_student_mean",
    "vs_teacher_mean",
    "recovered",
    "queries",
    "device",
)
ID3_BUDGET_COLUMNS = ("d", "m", "n_hessians", "method", "queries", "recovered", "complete", "uniform_rel_err", "device")
NL1_COLUMNS = (
    "data",
    "instance",
    "d",
    "loss_fn",
    "t",
    "loss",
    "w_norm",
    "angle",
    "margin",
    "svm_norm",
    "svm_margin",
    "model",
    "param_margin",
    "device",
)
NL2_TEACHER_COLUMNS = (
    "teacher",
    "teacher_width",
    "width",
    "init_scale",
    "test_rel_mse",
    "effective_rank",
    "stable_rank",
    "directions",
    "rel_change",
    "device",
)
NL2_DIGITS_COLUMNS = ("kind", "seed", "init_scale", "rank", "accuracy", "params_kept", "params_total", "device")
#: The undersampling ratio at which the SP2 text quotes the theoretical transition.
SP2_HALF_DELTA = 0.5
#: "Most networks": the share of trials the ID text asks for when it names a regime that works.
RECOVERY_SHARE = 0.8
WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight", 9: "Nine", 10: "Ten"}
TEX_PACKAGES = (
    "latexmk texlive-latex-base texlive-latex-recommended texlive-fonts-recommended "
    "texlive-pictures texlive-science lmodern"
)


def sci(x: float, digits: int = 2) -> str:
    """A number in LaTeX math with ``digits`` significant digits: 0.02 → 0.02, 0.0031 →
    3.1\\times 10^{-3}; exact powers of ten outside [0.01, 1000) as 10^{e}."""
    if x == 0 or not math.isfinite(x):
        return r"\ensuremath{0}" if x == 0 else r"\ensuremath{\infty}"
    e = math.floor(math.log10(abs(x)))
    mant = round(x / 10**e, digits - 1)
    if abs(mant) >= 10:
        mant, e = mant / 10, e + 1
    if -2 <= e <= 2:
        text = f"{mant * 10**e:.{max(digits - 1 - e, 0)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return rf"\ensuremath{{{text}}}"
    if mant == int(mant) == 1:
        return rf"\ensuremath{{10^{{{e}}}}}"
    return rf"\ensuremath{{{mant:.{digits - 1}f}\times 10^{{{e}}}}}"


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


def _cmd(name: str, value: str) -> str:
    return f"\\newcommand{{\\{name}}}{{{value}}}\n"


def alpha_star(sp1: pd.DataFrame, depth: int, column: str, within: float) -> float:
    """SP3's α*: the largest α up to which the median ``column`` (distance to basis pursuit of
    the GD limit, or of the Q_α minimizer) at ``depth`` stays within ``within``."""
    md = sp1[sp1["depth"] == depth].groupby("alpha", as_index=False)[column].median()
    return threshold_below(md["alpha"], md[column], within)


def sp2_transitions(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The 50 % transitions ρ(δ) of every SP2 method (columns) and the statistical-dimension
    curve at the same δ."""
    from iloco import sp

    tr = sp.transitions(table).pivot(index="delta", columns="method", values="rho50")
    return tr, pd.Series({d: sp.l1_transition(float(d)) for d in tr.index})


def sgd_vs_gd(sgd: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """SP3 at the largest step: the medians (error, support) of full-batch GD and of SGD with
    the smallest batch."""
    m, lr_max = int(sgd["m"].iloc[0]), float(sgd["lr"].max())
    med = sgd.groupby(["batch", "lr"], as_index=False)[["dist_xstar", "support"]].median()
    at = med[med["lr"] == lr_max].set_index("batch")
    return at.loc[m], at.loc[int(sgd["batch"].min())]


def early_stopping(noise: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """SP3 noise at the smallest α: GD's trajectory rows, its best error per instance along
    the path (early stopping with an oracle), and the best Lasso error per instance."""
    g = noise[noise["method"] == "GD"]
    ga = g[g["alpha"] == g["alpha"].min()]
    best = ga.groupby("instance")["rel_err"].min()
    lasso = noise[noise["method"] == "Lasso"].groupby("instance")["rel_err"].min()
    return ga, best, lasso


def sp1_macros(table: pd.DataFrame, bp_within: float, l2_within: float, scale: str) -> str:
    """Macros for the SP1 section, computed from the SP1 table."""
    out = ["% Generated by `iloco sp1-macros` from the SP1 result table. Do not edit.\n"]
    first = table.iloc[0]
    for key in ("n", "m", "k"):
        out.append(_cmd(f"SPone{key.upper()}", str(int(first[key]))))
    out.append(_cmd("SPoneInstances", str(table["instance"].nunique())))
    depths = sorted(table["depth"].unique())
    out.append(
        _cmd(
            "SPoneDepths",
            " and ".join(str(d) for d in depths)
            if len(depths) < 3
            else ", ".join(str(d) for d in depths[:-1]) + f", and {depths[-1]}",
        )
    )
    out.append(_cmd("SPoneBPWithin", sci(bp_within)))
    out.append(_cmd("SPoneLtwoWithin", sci(l2_within)))
    med = table.groupby(["depth", "alpha"], as_index=False)[["dist_bp", "dist_l2", "dist_xstar"]].median()
    for d in depths:
        w = WORDS.get(int(d), f"D{int(d)}")
        md = med[med["depth"] == d]
        a_bp = threshold_below(md["alpha"], md["dist_bp"], bp_within)
        a_l2 = threshold_above(md["alpha"], md["dist_l2"], l2_within)
        out.append(
            _cmd(
                f"SPoneBPRange{w}",
                "no $\\alpha$ of the grid" if math.isnan(a_bp) else f"every $\\alpha \\le$ {sci(a_bp)} of the grid",
            )
        )
        out.append(
            _cmd(
                f"SPoneLtwoRange{w}",
                "no $\\alpha$ of the grid" if math.isnan(a_l2) else f"every $\\alpha \\ge$ {sci(a_l2)} of the grid",
            )
        )
        lo, hi = md.iloc[md["alpha"].argmin()], md.iloc[md["alpha"].argmax()]
        out.append(_cmd(f"SPoneAlphaMin{w}", sci(lo["alpha"])))
        out.append(_cmd(f"SPoneAlphaMax{w}", sci(hi["alpha"])))
        out.append(_cmd(f"SPoneDistBPMin{w}", sci(lo["dist_bp"])))
        out.append(_cmd(f"SPoneDistLtwoMax{w}", sci(hi["dist_l2"])))
        out.append(_cmd(f"SPoneDistXstarMin{w}", sci(lo["dist_xstar"])))
        if "dist_q" in md.columns or "dist_q" in table.columns:
            tq = table[table["depth"] == d]
            if tq["dist_q"].notna().any():
                mq = tq.groupby("alpha")[["dist_q", "q_dist_bp"]].median()
                a_q = threshold_below(pd.Series(mq.index), mq["q_dist_bp"], bp_within)
                out.append(_cmd(f"SPoneQGapMax{w}", sci(float(mq["dist_q"].max()))))
                out.append(_cmd(f"SPoneQGapArgmax{w}", sci(float(mq["dist_q"].idxmax()))))
                out.append(
                    _cmd(
                        f"SPoneQBPRange{w}",
                        "no $\\alpha$ of the grid"
                        if math.isnan(a_q)
                        else f"every $\\alpha \\le$ {sci(a_q)} of the grid",
                    )
                )
    if "q_residual" in table.columns and table["q_residual"].notna().any():
        out.append(_cmd("SPoneQResidualMax", sci(float(table["q_residual"].max()))))
        out.append(_cmd("SPoneQSolves", str(int(table["q_residual"].notna().sum()))))
        out.append(_cmd("SPoneQGapMedian", sci(float(table["dist_q"].median()))))
    cells = len(table)
    conv = int((table["status"] == "converged").sum())
    out.append(_cmd("SPoneCells", str(cells)))
    out.append(_cmd("SPoneConverged", str(conv)))
    out.append(_cmd("SPoneMaxSteps", str(int(table["steps"].max()))))
    exact = table.groupby("instance")["bp_exact"].first()
    out.append(_cmd("SPoneBPExact", str(int(exact.sum()))))
    out.append(_cmd("SPoneScale", scale))
    out.append(_cmd("SPoneDevice", _tex_escape(str(first["device"]))))
    out.append(_cmd("SPoneCommit", _tex_escape(str(first["commit"]))))
    out.append(_cmd("SPoneConfigHash", _tex_escape(str(first["config_hash"]))))
    return "".join(out)


def sp2_macros(table: pd.DataFrame, threshold: float) -> str:
    """Macros for the SP2 section: the grid, the 50 % transitions of BP and GD against the
    statistical-dimension curve, and how far GD's transition is from BP's."""
    from iloco import sp

    out = ["% Generated by `iloco sp2-macros` from the SP2 result table. Do not edit.\n"]
    out.append(_cmd("SPtwoN", str(int(table["n"].iloc[0]))))
    out.append(_cmd("SPtwoTrials", str(int(table["trial"].nunique()))))
    deltas, rhos = sorted(table["delta"].unique()), sorted(table["rho"].unique())
    out.append(_cmd("SPtwoGrid", f"{len(deltas)}\\times{len(rhos)}"))
    out.append(_cmd("SPtwoDeltaMin", sci(deltas[0])))
    out.append(_cmd("SPtwoDeltaMax", sci(deltas[-1])))
    out.append(_cmd("SPtwoRhoMin", sci(rhos[0])))
    out.append(_cmd("SPtwoRhoMax", sci(rhos[-1])))
    out.append(_cmd("SPtwoThreshold", sci(threshold)))
    out.append(_cmd("SPtwoRows", str(int((table["method"] == "bp").sum()))))
    tr, theory = sp2_transitions(table)
    out.append(_cmd("SPtwoHalfDelta", f"{SP2_HALF_DELTA:g}"))
    out.append(_cmd("SPtwoTheoryHalf", f"{sp.l1_transition(SP2_HALF_DELTA):.3f}"))
    bp = tr["bp"]
    both = bp.notna()
    out.append(_cmd("SPtwoBPTheoryGap", f"{float((bp[both] - theory[both]).abs().mean()):.3f}"))
    out.append(_cmd("SPtwoBPTheoryBias", f"\\ensuremath{{{float((bp[both] - theory[both]).mean()):+.3f}}}"))
    out.append(_cmd("SPtwoTransitionDeltas", str(int(both.sum()))))
    bp_rows = table[table["method"] == "bp"].set_index(["cell", "trial"]) if "cell" in table else None
    for method in sorted(m for m in tr.columns if m.startswith("gd")):
        depth = int(method[2:])
        w = WORDS.get(depth, f"D{depth}")
        g = table[table["method"] == method]
        ok = both & tr[method].notna()
        gap = (tr[method][ok] - bp[ok]).to_numpy()
        out.append(_cmd(f"SPtwoAlpha{w}", sci(float(g["alpha"].iloc[0]))))
        out.append(_cmd(f"SPtwoGap{w}", f"{float(abs(gap).mean()):.3f}" if len(gap) else "n/a"))
        out.append(_cmd(f"SPtwoBias{w}", f"\\ensuremath{{{float(gap.mean()):+.3f}}}" if len(gap) else "n/a"))
        out.append(_cmd(f"SPtwoGapMax{w}", f"{float(abs(gap).max()):.3f}" if len(gap) else "n/a"))
        out.append(_cmd(f"SPtwoConverged{w}", _pct(float((g["status"] == "converged").mean()))))
        out.append(_cmd(f"SPtwoSteps{w}", str(int(g["steps"].max()))))
        if bp_rows is not None:
            gi = g.set_index(["cell", "trial"])
            bp_ok = bp_rows["success"].astype(bool)
            lost = (bp_ok & ~gi["success"].astype(bool).reindex(bp_ok.index)).sum() / max(1, bp_ok.sum())
            gained = (~bp_ok & gi["success"].astype(bool).reindex(bp_ok.index)).sum()
            out.append(_cmd(f"SPtwoLost{w}", _pct(float(lost))))
            out.append(_cmd(f"SPtwoGained{w}", str(int(gained))))
        qm = f"q{depth}"
        if qm in tr.columns:
            okq = both & tr[qm].notna()
            out.append(_cmd(f"SPtwoQGap{w}", f"{float((tr[qm][okq] - bp[okq]).abs().mean()):.3f}"))
            okg = ok & tr[qm].notna()
            out.append(_cmd(f"SPtwoGDQGap{w}", f"{float((tr[method][okg] - tr[qm][okg]).abs().mean()):.3f}"))
    half = min(deltas, key=lambda d: abs(d - 0.5))
    out.append(_cmd("SPtwoDeltaHalf", sci(half)))
    for method, name in (("bp", "BP"), ("gd2", "GDTwo"), ("gd3", "GDThree"), ("q2", "QTwo"), ("q3", "QThree")):
        if method in tr.columns:
            v = tr.loc[half, method]
            out.append(_cmd(f"SPtwoRhoHalf{name}", "n/a" if math.isnan(v) else f"{v:.2f}"))
    out.append(_cmd("SPtwoRhoHalfTheory", f"{theory[half]:.3f}"))
    out.append(_cmd("SPtwoDevice", _tex_escape(str(table.loc[table["method"] != "bp", "device"].iloc[0]))))
    return "".join(out)


def sp3_macros(sp1: pd.DataFrame, sgd: pd.DataFrame, noise: pd.DataFrame, bp_within: float) -> str:
    """Macros for SP3: the α below which each depth reaches basis pursuit ("more is less"), SGD
    against GD at equal α and step, and early-stopped GD on noisy data against the Lasso."""
    out = ["% Generated by `iloco sp3-macros` from the SP1 and SP3 result tables. Do not edit.\n"]
    depths = sorted(sp1["depth"].unique())
    out.append(_cmd("SPthreeDepths", ", ".join(str(int(d)) for d in depths)))
    stars, stars_q = [], []
    for d in depths:
        w = WORDS.get(int(d), f"D{int(d)}")
        a = alpha_star(sp1, d, "dist_bp", bp_within)
        stars.append(a)
        out.append(_cmd(f"SPthreeAlphaStar{w}", "none" if math.isnan(a) else sci(a)))
        if "q_dist_bp" in sp1.columns and sp1["q_dist_bp"].notna().any():
            aq = alpha_star(sp1, d, "q_dist_bp", bp_within)
            stars_q.append(aq)
            out.append(_cmd(f"SPthreeAlphaStarQ{w}", "none" if math.isnan(aq) else sci(aq)))
    for d in (2, 3, 4):  # the text names these depths; one not in sp1.runs reads "not run"
        if d not in depths:
            w = WORDS[d]
            out += [_cmd(f"SPthreeAlphaStar{w}", "not run"), _cmd(f"SPthreeAlphaStarQ{w}", "not run")]
    for name, values in (("SPthreeMoreIsLess", stars), ("SPthreeMoreIsLessQ", stars_q)):
        grows = (
            len(values) > 1
            and not any(math.isnan(a) for a in values)
            and all(b > a for a, b in zip(values, values[1:], strict=False))
        )
        out.append(_cmd(name, "grows strictly with depth" if grows else "does not grow strictly with depth"))
    # SGD vs GD
    m = int(sgd["m"].iloc[0])
    out.append(_cmd("SPthreeSGDAlpha", sci(float(sgd["alpha"].iloc[0]))))
    out.append(_cmd("SPthreeSGDBatches", ", ".join(str(int(b)) for b in sorted(sgd["batch"].unique()) if b != m)))
    out.append(_cmd("SPthreeSGDLrs", ", ".join(f"{v:g}" for v in sorted(sgd["lr"].unique()))))
    out.append(_cmd("SPthreeM", str(m)))
    med = sgd.groupby(["batch", "lr"], as_index=False)[["dist_xstar", "support"]].median()
    lr_max = float(sgd["lr"].max())
    b_min = int(sgd["batch"].min())
    gd, sg = sgd_vs_gd(sgd)
    gd_small = med[(med["batch"] == m) & (med["lr"] == med["lr"].min())].iloc[0]
    out.append(_cmd("SPthreeLrMax", f"{lr_max:g}"))
    out.append(_cmd("SPthreeLrMin", f"{float(med['lr'].min()):g}"))
    out.append(_cmd("SPthreeBatchMin", str(b_min)))
    out.append(_cmd("SPthreeGDErr", sci(float(gd["dist_xstar"]))))
    out.append(_cmd("SPthreeGDErrLrMin", sci(float(gd_small["dist_xstar"]))))
    out.append(_cmd("SPthreeSGDErr", sci(float(sg["dist_xstar"]))))
    out.append(_cmd("SPthreeGDSupport", str(int(round(gd["support"])))))
    out.append(_cmd("SPthreeSGDSupport", str(int(round(sg["support"])))))
    verdict = (
        "ends closer to $x^\\star$ and sparser than gradient descent, the direction they predict"
        if sg["dist_xstar"] < gd["dist_xstar"] and sg["support"] <= gd["support"]
        else "does not end closer to $x^\\star$ and sparser than gradient descent here, unlike their prediction"
    )
    out.append(_cmd("SPthreeSGDVerdict", verdict))
    out.append(_cmd("SPthreeSGDDiverged", str(int((sgd["status"] == "diverged").sum()))))
    out.append(_cmd("SPthreeSGDRuns", str(len(sgd))))
    # noise: early stopping vs the Lasso
    out.append(_cmd("SPthreeSigma", sci(float(noise["sigma"].iloc[0]))))
    ga, best, lasso = early_stopping(noise)
    a_min = float(ga["alpha"].iloc[0])
    last = ga[ga["step"] == ga["step"].max()].set_index("instance")["rel_err"]
    at = ga.loc[ga.groupby("instance")["rel_err"].idxmin(), "step"]
    out.append(_cmd("SPthreeNoiseAlpha", sci(a_min)))
    out.append(_cmd("SPthreeESErr", sci(float(best.median()))))
    out.append(_cmd("SPthreeESStep", str(int(at.median()))))
    out.append(_cmd("SPthreeFinalErr", sci(float(last.median()))))
    out.append(_cmd("SPthreeFinalStep", str(int(ga["step"].max()))))
    out.append(_cmd("SPthreeLassoErr", sci(float(lasso.median()))))
    out.append(_cmd("SPthreeESLassoRatio", f"{float((best / lasso).median()):.2f}"))
    out.append(_cmd("SPthreeNoiseInstances", str(int(noise["instance"].nunique()))))
    return "".join(out)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}\\,\\%"


def id1_macros(tables: dict[str, pd.DataFrame]) -> str:
    """Macros for the ID1 section, computed from the four sweep tables."""
    out = ["% Generated by `iloco id1-macros` from the ID1 result tables. Do not edit.\n"]
    rec, noi, wide, qry = (tables[k] for k in ("recovery", "noise", "wide", "queries"))
    d, m = int(rec["d"].iloc[0]), int(rec["m"].iloc[0])
    out += [_cmd("IDoneD", str(d)), _cmd("IDoneM", str(m)), _cmd("IDoneTrials", str(rec["instance"].nunique()))]
    out.append(_cmd("IDoneH", sci(float(rec["h"].iloc[0]))))
    cell = rec.groupby(["nonortho", "n_hessians"], as_index=False)[["complete", "recovered", "uniform_rel_err"]].mean()
    below, above = cell[cell["n_hessians"] < m], cell[cell["n_hessians"] >= m]
    if len(below):
        nb = int(below["n_hessians"].max())
        at = below[below["n_hessians"] == nb]
        out.append(_cmd("IDoneBelowMaxPct", _pct(below["complete"].max())))
        out.append(_cmd("IDoneNhBelow", str(nb)))
        out.append(_cmd("IDonePartialOrtho", f"{at['recovered'].iloc[0]:.1f}"))
        out.append(_cmd("IDonePartialNonortho", f"{at['recovered'].iloc[-1]:.1f}"))
        out.append(_cmd("IDoneNuMax", f"{at['nonortho'].iloc[-1]:g}"))
    if len(above):
        out.append(_cmd("IDoneAboveMinPct", _pct(above["complete"].min())))
        out.append(_cmd("IDoneAboveMaxPct", _pct(above["complete"].max())))
        ok = rec[(rec["n_hessians"] >= m) & rec["complete"].astype(bool)]
        out.append(_cmd("IDoneErrMedian", sci(float(ok["uniform_rel_err"].median())) if len(ok) else "n/a"))
    out.append(_cmd("IDoneQueriesAtM", str(int(rec.loc[rec["n_hessians"] >= m, "queries"].min()))))
    # noise: per step h, the largest noise level at which most networks are fully recovered
    out.append(_cmd("IDoneSharePct", _pct(RECOVERY_SHARE)))
    out.append(_cmd("IDoneNoiseNh", str(int(noi["n_hessians"].iloc[0]))))
    tol = []
    for h, g in noi.groupby("h"):
        frac = g.groupby("noise")["complete"].mean()
        good = frac[frac >= RECOVERY_SHARE].index
        if len(good) == 0 or max(good) == 0:
            level = "no noise level of the grid" if len(good) == 0 else "noise-free queries only"
        else:
            level = f"$\\sigma\\le$~{sci(float(max(good)))}"
        tol.append(f"{level} at $h=$~{sci(float(h))}")
    out.append(_cmd("IDoneNoiseTolerance", "; ".join(tol)))
    # wide regime
    wd = int(wide["d"].iloc[0])
    w = wide.groupby("m")[["complete", "claimed_complete"]].mean()
    good = w[w["complete"] >= RECOVERY_SHARE].index
    out.append(_cmd("IDoneWideD", str(wd)))
    out.append(_cmd("IDoneWideMaxM", str(int(max(good))) if len(good) else "none"))
    out.append(_cmd("IDoneWideLargestM", str(int(w.index.max()))))
    out.append(_cmd("IDoneWideLargestPct", _pct(w["complete"].iloc[-1])))
    out.append(_cmd("IDoneWideLargestClaimedPct", _pct(w["claimed_complete"].iloc[-1])))
    over = wide["claimed_complete"].astype(bool) & ~wide["complete"].astype(bool)
    out.append(_cmd("IDoneOverclaims", str(int(over.sum()))))
    verdict = (
        "near the dimension limit $m\\sim d^2/2$ the certificate is too lenient"
        if over.any()
        else "the certificate agrees with the evaluator on every network of the sweep"
    )
    out.append(_cmd("IDoneCertificateVerdict", verdict))
    out.append(_cmd("IDoneWideTrials", str(len(wide))))
    # queries
    q = qry.groupby("d")["queries"].mean()
    out.append(_cmd("IDoneQueriesMaxD", str(int(q.index.max()))))
    out.append(_cmd("IDoneQueriesMax", str(int(q.iloc[-1]))))
    out.append(_cmd("IDoneDevice", _tex_escape(str(rec["device"].iloc[0]))))
    return "".join(out)


def id3_wins(chain: pd.DataFrame) -> tuple[int, int]:
    """ID3: on how many students (of how many) identification is closer to the student than
    the Adam baseline on the same queries."""
    ide, adam = chain[chain["method"] == "identification"], chain[chain["method"] == "adam"]
    return int((ide["vs_student_mean"].to_numpy() < adam["vs_student_mean"].to_numpy()).sum()), len(ide)


def id3_budget_summary(budget: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int | float]:
    """ID3 budget, per method and N_h: queries, share complete, median uniform error; and the
    smallest N_h at which identification recovers most networks (NaN if none)."""
    g = budget.groupby(["n_hessians", "method"]).agg(
        queries=("queries", "first"), complete=("complete", "mean"), err=("uniform_rel_err", "median")
    )
    ide, adam = g.xs("identification", level="method"), g.xs("adam", level="method")
    done = ide[ide["complete"] >= RECOVERY_SHARE]
    return ide, adam, int(done.index.min()) if len(done) else math.nan


def digits_truncation(digits: pd.DataFrame) -> tuple[pd.DataFrame, float, float, int, int]:
    """NL2 digits: mean accuracy per (rank, init scale), the smallest and largest init scale,
    the full rank, and the smallest rank that keeps the small-init accuracy within a point of
    its full-rank accuracy."""
    tr = digits[digits["kind"] == "truncation"]
    acc = tr.groupby(["init_scale", "rank"])["accuracy"].mean().unstack(0)
    small, std, full = acc.columns.min(), acc.columns.max(), int(acc.index.max())
    k = int(min(acc.index[acc[small] >= acc.loc[full, small] - 0.01]))
    return acc, small, std, full, k


def id23_macros(two: pd.DataFrame, chain: pd.DataFrame, budget: pd.DataFrame) -> str:
    """Macros for the ID2 (two layers) and ID3 (chain, budget) text, from their result tables."""
    out = ["% Generated by `iloco id23-macros` from the ID2 and ID3 result tables. Do not edit.\n"]
    # ID2: per widths, at the largest N_h
    out.append(_cmd("IDtwoD", str(int(two["d"].iloc[0]))))
    out.append(_cmd("IDtwoRadius", sci(float(two["radius"].iloc[0]))))
    out.append(_cmd("IDtwoTrials", str(int(len(two) / two.groupby(["m0", "m1", "n_hessians"]).ngroups))))
    nh = int(two["n_hessians"].max())
    out.append(_cmd("IDtwoNhMax", str(nh)))
    top = (
        two[two["n_hessians"] == nh]
        .groupby(["m0", "m1"], as_index=False)[["first_frac", "entangled_frac", "complete", "span_error"]]
        .mean()
    )
    parts = [
        f"$(m_0,m_1)=({int(r.m0)},{int(r.m1)})$: {_pct(r.first_frac)} and {_pct(r.entangled_frac)}"
        for r in top.itertuples()
    ]
    out.append(_cmd("IDtwoRecoveryList", "; ".join(parts)))
    out.append(_cmd("IDtwoCompleteMaxPct", _pct(float(top["complete"].max()))))
    out.append(_cmd("IDtwoSpanErrMin", sci(float(top["span_error"].min()))))
    out.append(_cmd("IDtwoSpanErrMax", sci(float(top["span_error"].max()))))
    # ID3 chain: per init scale (smallest = small init, largest = standard)
    out.append(_cmd("IDthreeD", str(int(chain["d"].iloc[0]))))
    out.append(_cmd("IDthreeTeachers", str(int(chain["teacher"].nunique()))))
    out.append(_cmd("IDthreeTeacherWidth", str(int(chain["teacher_width"].iloc[0]))))
    out.append(_cmd("IDthreeStudentWidth", str(int(chain["student_width"].iloc[0]))))
    scales = sorted(chain["init_scale"].unique())
    for name, scale in (("Small", scales[0]), ("Std", scales[-1])):
        at = chain[chain["init_scale"] == scale]
        ide, adam = at[at["method"] == "identification"], at[at["method"] == "adam"]
        out.append(_cmd(f"IDthree{name}Scale", sci(float(scale))))
        out.append(_cmd(f"IDthree{name}TrainLoss", sci(float(ide["train_loss"].median()))))
        out.append(_cmd(f"IDthree{name}StudentErr", sci(float(ide["student_vs_teacher_mean"].median()))))
        widths = sorted(int(w) for w in ide["width"])
        out.append(_cmd(f"IDthree{name}Widths", ", ".join(str(w) for w in widths)))
        out.append(_cmd(f"IDthree{name}Compression", f"{ide['compression'].median():.1f}"))
        out.append(_cmd(f"IDthree{name}IdErr", sci(float(ide["vs_student_mean"].median()))))
        out.append(_cmd(f"IDthree{name}AdamErr", sci(float(adam["vs_student_mean"].median()))))
        out.append(_cmd(f"IDthree{name}Queries", str(int(ide["queries"].iloc[0]))))
    wins, students = id3_wins(chain)
    out.append(_cmd("IDthreeIdWins", f"{wins} of {students}"))
    # ID3 budget: per method at each query budget
    out.append(_cmd("IDthreeBudgetD", str(int(budget["d"].iloc[0]))))
    out.append(_cmd("IDthreeBudgetM", str(int(budget["m"].iloc[0]))))
    ide_b, adam_b, first = id3_budget_summary(budget)
    out.append(_cmd("IDthreeBudgetSharePct", _pct(RECOVERY_SHARE)))
    if not math.isnan(first):
        out.append(_cmd("IDthreeBudgetQueries", str(int(ide_b.loc[first, "queries"]))))
        out.append(_cmd("IDthreeBudgetIdErr", sci(float(ide_b.loc[first, "err"]))))
        out.append(_cmd("IDthreeBudgetAdamErr", sci(float(adam_b.loc[first, "err"]))))
        out.append(_cmd("IDthreeBudgetAdamCompletePct", _pct(float(adam_b.loc[first, "complete"]))))
    else:
        for key in ("Queries", "IdErr", "AdamErr", "AdamCompletePct"):
            out.append(_cmd(f"IDthreeBudget{key}", "n/a"))
    out.append(_cmd("IDthreeBudgetAdamBestPct", _pct(float(adam_b["complete"].max()))))
    return "".join(out)


def nl1_macros(table: pd.DataFrame) -> str:
    """Macros for the NL1 text: per data set (Soudry's, random), the fitted loss exponent and
    the norm growth per decade over the last decade of t against ln(10)·‖ŵ‖, the final angle
    to the SVM direction and the final normalized margin against the SVM margin."""
    from iloco import nl

    out = ["% Generated by `iloco nl1-macros` from the NL1 result table. Do not edit.\n"]
    homog = table[table["model"] != "linear"]
    table = table[table["model"] == "linear"]
    tmax = int(table["t"].max())
    out.append(_cmd("NLoneSteps", sci(float(tmax))))
    for data, name in (("soudry", "Soudry"), ("random", "Random")):
        part = table[table["data"] == data]
        if part.empty:
            continue
        st = nl.linear_run_stats(table, data)
        st["angle"] = np.degrees(st["angle"])
        out.append(_cmd(f"NLone{name}Sets", str(part["instance"].nunique())))
        out.append(_cmd(f"NLone{name}D", str(int(part["d"].iloc[0]))))
        out.append(_cmd(f"NLone{name}ExpMin", f"{st['exponent'].min():.2f}"))
        out.append(_cmd(f"NLone{name}ExpMax", f"{st['exponent'].max():.2f}"))
        out.append(_cmd(f"NLone{name}SlopeMin", _pct(st["ratio"].min())))
        out.append(_cmd(f"NLone{name}SlopeMax", _pct(st["ratio"].max())))
        out.append(_cmd(f"NLone{name}AngleMax", f"{st['angle'].max():.2f}"))
        out.append(_cmd(f"NLone{name}MarginMin", _pct(st["margin"].min())))
    # homogeneous networks: deep linear end-to-end margin vs the SVM's; ReLU normalized margin
    deep = homog[homog["model"].str.startswith("linear")]
    if len(deep):
        last = deep[deep["t"] == deep["t"].max()]
        ratio = last["margin"] / last["svm_margin"]
        out.append(_cmd("NLoneHomSteps", sci(float(deep["t"].max()))))
        out.append(_cmd("NLoneDeepMarginMin", _pct(float(ratio.min()))))
        out.append(_cmd("NLoneDeepMarginMax", _pct(float(ratio.max()))))
    relu = homog[homog["model"] == "relu2"]
    if len(relu):
        runs = ups = 0
        for _, g in relu.groupby(["instance", "loss_fn"]):
            q = g.sort_values("t")["param_margin"].to_numpy()
            pos = q[np.argmax(q > 0) :] if (q > 0).any() else q[:0]
            runs += 1
            ups += int(len(pos) > 1 and bool(np.all(np.diff(pos) >= -1e-12)))
        out.append(_cmd("NLoneReluMonotone", f"{ups} of {runs}"))
    return "".join(out)


def nl2_macros(teacher: pd.DataFrame, digits: pd.DataFrame) -> str:
    """Macros for the NL2 text: per init scale (smallest and largest) on teacher data, the
    median effective rank, number of neuron directions, relative movement of the first layer
    and test error; on digits, the accuracy of the smallest and largest init scale before and
    after truncation to the smallest rank that keeps the small-init accuracy within a point."""
    out = ["% Generated by `iloco nl2-macros` from the NL2 result tables. Do not edit.\n"]
    out.append(_cmd("NLtwoTeacherWidth", str(int(teacher["teacher_width"].iloc[0]))))
    out.append(_cmd("NLtwoWidth", str(int(teacher["width"].iloc[0]))))
    med = teacher.groupby("init_scale")[["effective_rank", "directions", "rel_change", "test_rel_mse"]].median()
    for name, scale in (("Small", med.index.min()), ("Large", med.index.max())):
        r = med.loc[scale]
        out.append(_cmd(f"NLtwo{name}Scale", sci(float(scale))))
        out.append(_cmd(f"NLtwo{name}EffRank", f"{r['effective_rank']:.1f}"))
        out.append(_cmd(f"NLtwo{name}Directions", f"{r['directions']:.0f}"))
        out.append(_cmd(f"NLtwo{name}Change", sci(float(r["rel_change"]))))
        out.append(_cmd(f"NLtwo{name}TestErr", sci(float(r["test_rel_mse"]))))
    tr = digits[digits["kind"] == "truncation"]
    acc, small, std, full_rank, k = digits_truncation(digits)
    out.append(_cmd("NLtwoDigitsSmallScale", sci(float(small))))
    out.append(_cmd("NLtwoDigitsStdScale", sci(float(std))))
    out.append(_cmd("NLtwoDigitsSmallAcc", _pct(float(acc.loc[full_rank, small]))))
    out.append(_cmd("NLtwoDigitsStdAcc", _pct(float(acc.loc[full_rank, std]))))
    kept = tr.loc[tr["rank"] == k, "params_kept"].iloc[0] / tr["params_total"].iloc[0]
    out.append(_cmd("NLtwoDigitsRank", str(k)))
    out.append(_cmd("NLtwoDigitsKeptPct", _pct(float(kept))))
    out.append(_cmd("NLtwoDigitsSmallAccAtRank", _pct(float(acc.loc[k, small]))))
    out.append(_cmd("NLtwoDigitsStdAccAtRank", _pct(float(acc.loc[k, std]))))
    return "".join(out)


def constants_macros(settings: dict) -> str:
    """Macros for the settings and literature values the text quotes: tolerances from the
    config (``settings``: ``lr_tol_loss``), constants of the code, and the cited papers'
    numbers (:mod:`iloco.published`)."""
    from iloco import plotting, published, sp

    out = ["% Generated by `iloco constants-macros` from the config, the code and iloco.published. Do not edit.\n"]
    out.append(_cmd("SetLRTolLoss", sci(float(settings["lr_tol_loss"]))))
    out.append(_cmd("SetQTol", sci(sp.POTENTIAL_TOL)))
    out.append(_cmd("SetSupportPct", _pct(sp.SUPPORT_REL)))
    low = (100 - plotting.BAND_PI) / 2
    out.append(_cmd("SetBand", f"{low:g}--{100 - low:g}\\,\\%"))
    pub = published.ID1_FORNASIER
    out.append(_cmd("PubIDoneD", str(pub["d"])))
    out.append(_cmd("PubIDoneNoneUpTo", str(pub["none_up_to"])))
    out.append(_cmd("PubIDoneFromNh", str(pub["from_nh"])))
    out.append(_cmd("PubIDoneRange", f"{100 * pub['low']:g}--{100 * pub['high']:g}\\,\\%"))
    pub = published.LR1_ARORA
    for key, name in (("d", "D"), ("rank", "Rank"), ("low_obs", "ObsLow"), ("high_obs", "ObsHigh")):
        out.append(_cmd(f"PubLR{name}", str(pub[key])))
    out.append(_cmd("PubLRRmsEps", sci(published.LR1_ARORA_RMSPROP["eps"])))
    pts = [f"$\\pm({a:g},{b:g})$" for a, b in published.SOUDRY_SUPPORT]
    out.append(_cmd("PubSoudrySupport", ", ".join(pts)))
    out.append(_cmd("PubSoudrySVM", "({:g},{:g})".format(*published.SOUDRY_SVM)))
    return "".join(out)


#: What the hand-written .tex sources may contain as digits, each with its reason. Everything
#: else that looks like a number must be a macro from paper/generated/ (results, settings) or
#: paper/published.tex (values of the cited papers, each with its source).
TEX_ALLOWED = (
    (r"\\documentclass\[[^\]]*\]", "class options (font size)"),
    (r"[Dd]epths?[~ -]\d(?:\s*(?:and|,)\s*\d)*\b", "a model named by its depth"),
    (r"[Ff]igure~\d+\b", "a figure number of a cited paper"),
    (r"\b50\\,\\%", "the 50 % level that defines a phase transition"),
    (r"\\ln\(10\)", "an equation constant"),
    (r"\d+(?:\.\d+)?\s*\\(?:text|line|column)width", "a layout length"),
)
_TEX_STRIP = re.compile(
    r"\\(?:cite[tp]?|ref|eqref|label|input|include|includegraphics|bibliography|bibliographystyle"
    r"|usepackage|begin|end|graphicspath|url|texttt)\*?(?:\[[^\]]*\])*\{[^}]*\}"
)
_MATH = re.compile(r"\$[^$]*\$|\\\[.*?\\\]|\\begin\{(equation|align)\*?\}.*?\\end\{\1\*?\}", re.S)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def hand_typed_numbers(text: str) -> list[tuple[int, str]]:
    """(line, number) of every digit sequence in LaTeX ``text`` that looks like a result: not
    in a comment, a reference, a file name or :data:`TEX_ALLOWED`, and not a single digit in
    math mode (exponents, indices, equation constants)."""
    text = re.sub(r"(?<!\\)%.*", "", text)
    blank = lambda m: re.sub(r"[^\n]", " ", m.group())  # noqa: E731  (keeps line numbers and offsets)
    text = _TEX_STRIP.sub(blank, text)
    text = re.sub(r"(\\[A-Za-z]+)(?=\d)", r"\1 ", text)  # \le16 is \le then 16
    for pattern, _why in TEX_ALLOWED:
        text = re.sub(pattern, blank, text)
    math = [m.span() for m in _MATH.finditer(text)]
    out = []
    for m in _NUMBER.finditer(text):
        in_math = any(a <= m.start() < b for a, b in math)
        if in_math and len(m.group()) == 1:
            continue
        out.append((text.count("\n", 0, m.start()) + 1, m.group()))
    return out


def _tex_escape(s: str) -> str:
    return "".join("\\" + c if c in "&%$#_{}" else c for c in s)


def build_pdf(tex: str | os.PathLike, out: str | os.PathLike, workdir: str | os.PathLike) -> None:
    """Run latexmk on ``tex`` with auxiliary files in ``workdir``; move the PDF to ``out``.

    Dates are pinned (SOURCE_DATE_EPOCH) so the same sources give the same PDF bytes.
    """
    tex, out, workdir = Path(tex).resolve(), Path(out), Path(workdir).resolve()
    if shutil.which("latexmk") is None:
        raise IlocoError(f"latexmk not found: install TeX Live (Debian: apt-get install {TEX_PACKAGES})")
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    cmd = [
        "latexmk",
        "-pdf",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        f"-outdir={workdir}",
        tex.name,
    ]
    proc = subprocess.run(cmd, cwd=tex.parent, env=env, capture_output=True, text=True)
    log = workdir / (tex.stem + ".log")
    if proc.returncode != 0:
        first = next(
            (
                ln
                for ln in (log.read_text(errors="replace").splitlines() if log.exists() else [])
                if ln.startswith("!") or ":" in ln and "error" in ln.lower()
            ),
            "no error line in the log",
        )
        raise IlocoError(f"latexmk failed on {tex} ({first.strip()}); full log: {log}")
    with atomic_path(out) as tmp:
        shutil.copyfile(workdir / (tex.stem + ".pdf"), tmp)


LR1_COLUMNS = (
    "task",
    "instance",
    "d",
    "rank",
    "observations",
    "method",
    "depth",
    "alpha",
    "lr",
    "rms_beta",
    "rms_eps",
    "rel_error",
    "mse",
    "effective_rank",
    "steps",
    "status",
    "device",
    "commit",
    "config_hash",
)


def _words(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) < 3:
        return " and ".join(items)
    return ", ".join(items[:-1]) + f", and {items[-1]}"


def first_recovering(obs: pd.Series, err: pd.Series, within: float) -> float:
    """Smallest m such that the median error is ≤ ``within`` at m and at every larger m."""
    return threshold_above(obs, err, within)


def _rmsprop_macros(tag: str, trained: pd.DataFrame, gd: pd.DataFrame, m_star: float, within: float) -> list[str]:
    """LR1 macros of the normalized-RMSprop runs (``LR{tag}Rms…``): per depth 1–4 the first
    count from which the median error stays within the threshold (and whether these are GD's)
    and the median error at GD's anchor count; how many of the paired (instance, count, depth)
    runs GD and RMSprop agree on recovering; convergence and median steps of both, and their
    ratio."""
    rms = trained[trained["method"] == "rmsprop"]
    out = []

    def first(runs, n):
        med = runs[runs["depth"] == n].groupby("observations")["rel_error"].median()
        return first_recovering(pd.Series(med.index), pd.Series(med.values), within), med

    depths = sorted(int(n) for n in rms["depth"].unique())
    same = bool(depths)
    for n in range(1, 5):
        name = WORDS[n]
        if n not in depths:
            out += [_cmd(f"LR{tag}RmsFirst{name}", "(not run)"), _cmd(f"LR{tag}RmsAnchorErr{name}", "n/a")]
            continue
        m, med = first(rms, n)
        m_gd = first(gd, n)[0]
        same = same and (m == m_gd or math.isnan(m) and math.isnan(m_gd))
        out.append(_cmd(f"LR{tag}RmsFirst{name}", "none of the counts" if math.isnan(m) else f"$m={int(m)}$"))
        val = med.get(m_star, math.nan) if not math.isnan(m_star) else math.nan
        out.append(_cmd(f"LR{tag}RmsAnchorErr{name}", "n/a" if math.isnan(val) else sci(float(val))))
    out.append(_cmd(f"LR{tag}RmsSameFirsts", "the same as" if same else "not all the same as"))
    keys = ["instance", "observations", "depth", "alpha"]
    pairs = gd[keys + ["rel_error"]].merge(rms[keys + ["rel_error"]], on=keys, suffixes=("_gd", "_rms"))
    agree = ((pairs["rel_error_gd"] <= within) == (pairs["rel_error_rms"] <= within)).sum()
    out.append(_cmd(f"LR{tag}RmsAgree", str(int(agree))))
    out.append(_cmd(f"LR{tag}RmsPairs", str(len(pairs))))
    out.append(_cmd(f"LR{tag}RmsCells", str(len(rms))))
    out.append(_cmd(f"LR{tag}RmsConverged", str(int((rms["status"] == "converged").sum()))))
    out.append(_cmd(f"LR{tag}RmsMaxSteps", str(int(rms["steps"].max())) if len(rms) else "n/a"))
    med = {}
    for name, runs in (("Rms", rms), ("Gd", gd)):
        med[name] = runs.loc[runs["status"] == "converged", "steps"].median()
        out.append(_cmd(f"LR{tag}{name}MedSteps", "n/a" if math.isnan(med[name]) else str(int(med[name]))))
    ratio = med["Rms"] / med["Gd"] if med["Gd"] > 0 else math.nan
    out.append(_cmd(f"LR{tag}RmsStepRatio", "n/a" if math.isnan(ratio) else sci(ratio)))
    return out


def lr_half_steps(dynamics: pd.DataFrame) -> list[int]:
    """LR2, completion at the deepest depth: the first recorded step at which each of the
    top-r singular values of the product reaches half its final value (−1: never)."""
    c = dynamics[dynamics["setting"] == "completion"]
    g = c[c["depth"] == c["depth"].max()].sort_values("step")
    final = g.iloc[-1]
    half = []
    for k in range(1, int(g["rank"].iloc[0]) + 1):
        reached = g.loc[g[f"sv{k}"] >= 0.5 * final[f"sv{k}"], "step"]
        half.append(int(reached.iloc[0]) if len(reached) else -1)
    return half


def lr_incremental(half: list[int]) -> bool:
    """Incremental learning: every singular value is learned, one after the other."""
    return min(half) >= 0 and all(a < b for a, b in zip(half, half[1:], strict=False))


def lr_macros(tables: dict[str, pd.DataFrame], within: float, scale: str) -> str:
    """Macros for the LR section, computed from the LR1, LR2 and LR3 tables."""
    out = ["% Generated by `iloco lr-macros` from the LR result tables. Do not edit.\n"]
    out.append(_cmd("LRScale", scale))
    out.append(_cmd("LRWithin", sci(within)))
    for task, tag in (("completion", "Comp"), ("sensing", "Sens")):
        t = tables[task]
        first = t.iloc[0]
        trained = t[t["method"] != "nuclear"]
        alpha = trained["alpha"].min()
        trained = trained[trained["alpha"] == alpha]
        # the main curves are GD's (the first method when GD was not run); RMSprop's have their own macros
        main = "gd" if (trained["method"] == "gd").any() else str(trained["method"].iloc[0])
        gd = trained[trained["method"] == main]
        out += [_cmd(f"LR{tag}D", str(int(first["d"]))), _cmd(f"LR{tag}Rank", str(int(first["rank"])))]
        out.append(_cmd(f"LR{tag}Instances", str(t["instance"].nunique())))
        obs = sorted(t["observations"].unique())
        out.append(_cmd(f"LR{tag}Obs", _words([str(int(m)) for m in obs])))
        out.append(_cmd(f"LR{tag}Alpha", sci(alpha)))
        depths = sorted(int(n) for n in gd["depth"].unique())
        out.append(_cmd(f"LR{tag}Depths", _words([str(n) for n in depths])))
        med = {
            **{f"N{n}": gd[gd["depth"] == n].groupby("observations")["rel_error"].median() for n in depths},
            "nuc": t[t["method"] == "nuclear"].groupby("observations")["rel_error"].median(),
        }
        for n in range(1, 5):  # the text names depths 1-4; a depth not run says so
            if n not in depths:
                out.append(_cmd(f"LR{tag}First{WORDS[n]}", "(depth not run)"))
                out.append(_cmd(f"LR{tag}AnchorErr{WORDS[n]}", "n/a"))
        firsts = {}
        for key, series in med.items():
            m = first_recovering(pd.Series(series.index), pd.Series(series.values), within)
            firsts[key] = m
            name = "Nuc" if key == "nuc" else WORDS.get(int(key[1:]), key)
            out.append(_cmd(f"LR{tag}First{name}", "none of the counts" if math.isnan(m) else f"$m={int(m)}$"))
        # the anchor: the smallest count at which the deepest net recovers; errors there
        deep = f"N{max(depths)}"
        m_star = firsts[deep]
        out.append(_cmd(f"LR{tag}AnchorM", "n/a" if math.isnan(m_star) else str(int(m_star))))
        for key, series in med.items():
            name = "Nuc" if key == "nuc" else WORDS.get(int(key[1:]), key)
            val = series.get(m_star, math.nan) if not math.isnan(m_star) else math.nan
            out.append(_cmd(f"LR{tag}AnchorErr{name}", "n/a" if math.isnan(val) else sci(float(val))))
        er = gd[gd["observations"] == (m_star if not math.isnan(m_star) else obs[-1])].groupby("depth")
        er = er["effective_rank"].median()
        out.append(_cmd(f"LR{tag}AnchorErankDeep", f"{er.iloc[-1]:.2f}"))
        out.append(
            _cmd(
                f"LR{tag}DofRatio",
                f"{float(m_star) / (first['rank'] * (2 * first['d'] - first['rank'])):.1f}"
                if not math.isnan(m_star)
                else "n/a",
            )
        )
        out.append(_cmd(f"LR{tag}Cells", str(len(gd))))
        out.append(_cmd(f"LR{tag}Converged", str(int((gd["status"] == "converged").sum()))))
        out.append(_cmd(f"LR{tag}MaxSteps", str(int(gd["steps"].max()))))
        late = sorted(int(m) for m in gd.loc[gd["status"] != "converged", "observations"].unique())
        out.append(_cmd(f"LR{tag}UnconvergedObs", f"$m\\in\\{{{', '.join(map(str, late))}\\}}$" if late else "none"))
        nuc = t[t["method"] == "nuclear"]
        out.append(_cmd(f"LR{tag}NucSolved", str(int((nuc["status"] == "converged").sum()))))
        out.append(_cmd(f"LR{tag}NucProblems", str(len(nuc))))
        out.append(_cmd(f"LR{tag}NucSolver", _tex_escape(str(nuc["solver"].iloc[0])) if "solver" in nuc else "SCS"))
        out += _rmsprop_macros(tag, trained, gd, m_star, within)
    comp = tables["completion"]
    rms = comp[comp["method"] == "rmsprop"]
    for name, col in (("Lr", "lr"), ("Beta", "rms_beta"), ("Eps", "rms_eps")):
        x = float(rms[col].iloc[0]) if len(rms) else math.nan
        # a constant: one significant digit when that is exact (1e-3, 5e-5), else two
        out.append(_cmd(f"LRRms{name}", "n/a" if math.isnan(x) else sci(x, 1 if float(f"{x:.0e}") == x else 2)))
    out.append(_cmd("LRDevice", _tex_escape(str(comp.loc[comp["method"] != "nuclear", "device"].iloc[0]))))
    out.append(_cmd("LRCommit", _tex_escape(str(comp["commit"].iloc[0]))))
    out.append(_cmd("LRConfigHash", _tex_escape(str(comp["config_hash"].iloc[0]))))
    # LR2: incremental learning on the completion instance (deepest depth)
    dyn = tables["dynamics"]
    c = dyn[dyn["setting"] == "completion"]
    deepest = int(c["depth"].max())
    g = c[c["depth"] == deepest].sort_values("step")
    r = int(g["rank"].iloc[0])
    half = lr_half_steps(dyn)
    out.append(_cmd("LRtwoD", str(int(g["d"].iloc[0]))))
    out.append(_cmd("LRtwoRank", str(r)))
    out.append(_cmd("LRtwoObs", str(int(g["observations"].iloc[0]))))
    out.append(_cmd("LRtwoDeepest", str(deepest)))
    out.append(_cmd("LRtwoHalfSteps", _words([str(s) for s in half])))
    ordered = lr_incremental(half)
    out.append(_cmd("LRtwoOrdered", "one after the other, largest first" if ordered else "not strictly in order"))
    fin = c.sort_values("step").groupby("depth").last()
    out.append(
        _cmd("LRtwoFinalErank", _words([f"{fin.loc[n, 'effective_rank']:.2f} ($N={int(n)}$)" for n in fin.index]))
    )
    out.append(_cmd("LRtwoFinalErr", _words([f"{sci(fin.loc[n, 'rel_error'])} ($N={int(n)}$)" for n in fin.index])))
    spec = dyn[dyn["setting"] == "spectrum"]
    ks = sorted(int(col.removeprefix("dist_rank")) for col in spec.columns if col.startswith("dist_rank"))
    ks = [k for k in ks if k > 0]
    worst = spec.groupby("depth").apply(lambda h: max(h[f"dist_rank{k}"].min() for k in ks), include_groups=False)
    out.append(_cmd("LRtwoKmax", str(max(ks))))
    out.append(_cmd("LRtwoSpecWorst", _words([f"{sci(worst[n])} ($N={int(n)}$)" for n in worst.index])))
    # LR3: the flows
    fd, gd3 = tables["flow_depths"], tables["gd_vs_flow"]
    out.append(_cmd("LRthreeD", str(int(fd["d"].iloc[0]))))
    out.append(_cmd("LRthreeObs", _words([str(int(m)) for m in sorted(fd["observations"].unique())])))
    out.append(_cmd("LRthreeInstances", str(fd["instance"].nunique())))
    out.append(_cmd("LRthreeAlpha", sci(float(fd["alpha"].iloc[0]))))
    med = fd.groupby("depth")[["rel_error", "effective_rank"]].median()
    names = ["\\infty" if n == float("inf") else str(int(n)) for n in med.index]
    out.append(_cmd("LRthreeDepths", _words([f"${n}$" for n in names])))
    out.append(
        _cmd(
            "LRthreeErrByDepth",
            _words([f"{sci(e)} ($N={n}$)" for n, e in zip(names, med["rel_error"], strict=True)]),
        )
    )
    out.append(
        _cmd(
            "LRthreeErankByDepth",
            _words([f"{e:.2f} ($N={n}$)" for n, e in zip(names, med["effective_rank"], strict=True)]),
        )
    )
    mono = bool((med["rel_error"].diff().dropna() <= 0).all())
    out.append(_cmd("LRthreeMonotone", "decreases monotonically" if mono else "does not decrease monotonically"))
    out.append(_cmd("LRthreeConverged", str(int((fd["status"] == "converged").sum()))))
    out.append(_cmd("LRthreeFlows", str(len(fd))))
    # GD against the flow: the gap and its order in the step
    orders, gaps = [], []
    for n, h in gd3.groupby("depth"):
        h = h.sort_values("lr")
        slope = math.log(h["max_gap"].iloc[-1] / h["max_gap"].iloc[0]) / math.log(h["lr"].iloc[-1] / h["lr"].iloc[0])
        orders.append(f"{slope:.2f} ($N={int(n)}$)")
        gaps.append(f"{sci(h['max_gap'].iloc[0])} ($N={int(n)}$)")
    out.append(_cmd("LRthreeGapOrder", _words(orders)))
    out.append(_cmd("LRthreeGapSmallest", _words(gaps)))
    out.append(_cmd("LRthreeLrMin", sci(float(gd3["lr"].min()))))
    out.append(_cmd("LRthreeGdDepths", _words([str(int(n)) for n in sorted(gd3["depth"].unique())])))
    return "".join(out)
