"""Claims as checks: every result the paper states is declared once here, with a predicate
over the result tables and a tolerance.

The workflow evaluates all claims at the scale being built, writes a pass/fail table with the
measured values (CSV, and a LaTeX table for the paper's appendix) and, by config
(``paper.claims``), either fails the build naming the claims that do not hold (``error``) or
marks them in red in the paper (``mark``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from iloco import paper
from iloco.errors import IlocoError

#: Result tables a claim may read: name → path (the workflow's outputs).
TABLES = {
    "sp1": "results/sp1/sp1.csv",
    "sp2": "results/sp2/sp2.csv",
    "sp3_sgd": "results/sp3/sgd.csv",
    "sp3_noise": "results/sp3/noise.csv",
    "id1_recovery": "results/id1/recovery.csv",
    "id3_chain": "results/id3/chain.csv",
    "id3_budget": "results/id3/budget.csv",
    "lr_completion": "results/lr/completion.csv",
    "lr_sensing": "results/lr/sensing.csv",
    "lr_dynamics": "results/lr/dynamics.csv",
    "lr_flow_depths": "results/lr/flow_depths.csv",
    "lr_flow_gd": "results/lr/flow_gd.csv",
    "nl1": "results/nl1/separable.csv",
    "nl2_teacher": "results/nl2/teacher.csv",
    "nl2_digits": "results/nl2/digits.csv",
}


def table_arguments(paths, names=TABLES) -> str:
    """``NAME=PATH`` arguments of the claims and provenance jobs (``paths``: a rule's input;
    ``names``: the tables to pass, all by default)."""
    return " ".join(f"{name}={paths[name]}" for name in names)


#: Thresholds from the config that claims use (the same the macros and figures use).
SETTINGS = ("sp1_bp_within", "sp1_l2_within", "lr_recover_within")
ON_FAIL = ("error", "mark")
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_TEX_OPS = {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge"}


@dataclass(frozen=True)
class Claim:
    """One statement of the paper: ``measure`` returns (measured value, reference); the claim
    holds when ``measured op reference + tol`` (for ``<``/``<=``; ``- tol`` for ``>``/``>=``),
    i.e. ``tol`` is the slack granted to the measurement. ``target`` is the figure whose
    Snakemake target rebuilds the tables it reads."""

    name: str
    family: str
    text: str
    tables: tuple[str, ...]
    measure: Callable[[dict[str, pd.DataFrame], dict], tuple[float, float]]
    op: str
    tol: float
    target: str

    def holds(self, value: float, reference: float) -> bool:
        if not (math.isfinite(value) and not math.isnan(reference)):
            return False
        bound = reference + self.tol if self.op in ("<", "<=") else reference - self.tol
        return bool(_OPS[self.op](value, bound))


# --------------------------------------------------------------------------- measures
def _lr_first(t: pd.DataFrame, within: float) -> tuple[float, float]:
    """(smallest count from which the best depth ≥ 3 recovers, the nuclear norm's); a method
    that never recovers counts as infinitely many observations."""
    gd = t[t["method"] == "gd"]  # the claim is about gradient descent
    gd = gd[gd["alpha"] == gd["alpha"].min()]

    def first(rows: pd.DataFrame) -> float:
        med = rows.groupby("observations")["rel_error"].median()
        m = paper.first_recovering(pd.Series(med.index), pd.Series(med.values), within)
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
    med = tb["lr_flow_depths"].groupby("depth")["rel_error"].median()
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
    return float(paper.lr_incremental(paper.lr_half_steps(tb["lr_dynamics"]))), 1.0


def _sp1_median(tb, depth: int, col: str, pick: str) -> float:
    t = tb["sp1"]
    med = t[t["depth"] == depth].groupby("alpha")[col].median()
    return float(med.iloc[0] if pick == "min" else med.iloc[-1])


def _sp1_bp(tb, s):
    return _sp1_median(tb, 2, "dist_bp", "min"), s["sp1_bp_within"]


def _sp1_l2(tb, s):
    return _sp1_median(tb, 2, "dist_l2", "max"), s["sp1_l2_within"]


def _sp1_q(tb, s):
    return float(tb["sp1"]["dist_q"].median()), 0.0


def _sp2_theory(tb, s):
    tr, theory = paper.sp2_transitions(tb["sp2"])
    return float((tr["bp"] - theory).dropna().abs().mean()), 0.0


def _sp3_more_is_less(tb, s):
    """Smallest ratio between the α* of consecutive depths, α* the largest α up to which the
    median minimizer of the exact potential Q^L_α is within bp_within of basis pursuit; > 1
    means α* grows with depth (Woodworth et al.). The GD limits' α* is in the text: at small α
    deep runs need more steps than the quick scale gives."""
    t = tb["sp1"]
    stars = [paper.alpha_star(t, d, "q_dist_bp", s["sp1_bp_within"]) for d in sorted(t["depth"].unique())]
    if len(stars) < 2 or any(math.isnan(a) for a in stars):
        return math.nan, 1.0
    return min(b / a for a, b in zip(stars, stars[1:], strict=False)), 1.0


def _sp3_sgd(tb, s):
    gd, sgd = paper.sgd_vs_gd(tb["sp3_sgd"])
    return float(sgd["dist_xstar"]), float(gd["dist_xstar"])


def _sp3_lasso(tb, s):
    _, best, lasso = paper.early_stopping(tb["sp3_noise"])
    return float((best / lasso).median()), 1.0


def _id1_threshold(tb, s):
    """Smallest share of fully identified networks over the cells with N_h ≥ m (every N_h and
    non-orthogonality of the sweep)."""
    rec = tb["id1_recovery"]
    at = rec[rec["n_hessians"] >= int(rec["m"].iloc[0])]
    return float(at.groupby(["nonortho", "n_hessians"])["complete"].mean().min()), paper.RECOVERY_SHARE


def _id1_below(tb, s):
    rec = tb["id1_recovery"]
    below = rec[rec["n_hessians"] < int(rec["m"].iloc[0])]
    return float(below["complete"].astype(bool).mean()) if len(below) else math.nan, 0.0


def _id3_wins(tb, s):
    wins, students = paper.id3_wins(tb["id3_chain"])
    return wins / students, 1.0


def _id3_compression(tb, s):
    ch = tb["id3_chain"]
    ide = ch[(ch["method"] == "identification") & (ch["init_scale"] == ch["init_scale"].min())]
    return float(ide["compression"].median()), 1.0


def _id3_budget(tb, s):
    """At the smallest budget where identification recovers most networks: its median uniform
    error against Adam's on the same queries."""
    ide, adam, first = paper.id3_budget_summary(tb["id3_budget"])
    if math.isnan(first):
        return math.nan, math.nan
    return float(ide.loc[first, "err"]), float(adam.loc[first, "err"])


def _nl1_stats(tb, data: str) -> pd.DataFrame:
    from iloco import nl

    return nl.linear_run_stats(tb["nl1"], data)


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
    med = tb["nl2_teacher"].groupby("init_scale")["effective_rank"].median()
    return float(med.iloc[0]), float(med.iloc[-1])


def _nl2_digits(tb, s):
    """At the smallest rank that keeps the small-init accuracy within a point of its full-rank
    accuracy: small-init accuracy against standard-init accuracy."""
    acc, small, std, _, k = paper.digits_truncation(tb["nl2_digits"])
    return float(acc.loc[k, small]), float(acc.loc[k, std])


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
        "The completion error of the $N=\\infty$ flow is below that of $N=1$",
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
    Claim(
        "sp1-small-alpha-l1",
        "SP",
        "At the smallest $\\alpha$, the depth-2 GD limit is basis pursuit (median relative distance)",
        ("sp1",),
        _sp1_bp,
        "<=",
        0.0,
        "figures/sp1_alpha.pdf",
    ),
    Claim(
        "sp1-large-alpha-l2",
        "SP",
        "At the largest $\\alpha$, the depth-2 GD limit is the minimum-$\\ell_2$ interpolant",
        ("sp1",),
        _sp1_l2,
        "<=",
        0.0,
        "figures/sp1_alpha.pdf",
    ),
    Claim(
        "sp1-q-alpha",
        "SP",
        "The GD limit is the minimizer of the exact potential $Q_\\alpha$ (median relative distance)",
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
    Claim(
        "id1-below-threshold",
        "ID",
        "With fewer Hessians than neurons no network is fully identified",
        ("id1_recovery",),
        _id1_below,
        "<=",
        0.0,
        "figures/id1_identification.pdf",
    ),
    Claim(
        "id1-at-threshold",
        "ID",
        "From $N_h=m$ Hessians on, most networks are fully identified, at every non-orthogonality of the sweep "
        "(smallest share over the cells)",
        ("id1_recovery",),
        _id1_threshold,
        ">=",
        0.0,
        "figures/id1_identification.pdf",
    ),
    Claim(
        "id3-beats-adam",
        "ID",
        "On trained students, identification is more accurate than Adam at equal queries (share of students)",
        ("id3_chain",),
        _id3_wins,
        ">=",
        0.0,
        "figures/id3_chain.pdf",
    ),
    Claim(
        "id3-compresses",
        "ID",
        "Students trained from small initialization are compressed by identification (parameter ratio)",
        ("id3_chain",),
        _id3_compression,
        ">",
        0.0,
        "figures/id3_chain.pdf",
    ),
    Claim(
        "id3-budget",
        "ID",
        "At the budget where identification recovers most networks, its uniform error is below Adam's",
        ("id3_budget",),
        _id3_budget,
        "<",
        0.0,
        "figures/id3_chain.pdf",
    ),
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
        "Small initialization gives a first layer of lower effective rank than large initialization",
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


def _figure(c: Claim) -> str:
    """The figure a claim is about: the stem of its target."""
    return c.target.removeprefix("figures/").removesuffix(".pdf")


#: The figures claims are about, in the order of CLAIMS.
FIGURES = tuple(dict.fromkeys(map(_figure, CLAIMS)))


def of_figure(figure: str | None) -> tuple[Claim, ...]:
    """The claims about ``figure`` (all of them for None); an unknown figure is an error."""
    if figure is None:
        return CLAIMS
    if figure not in FIGURES:
        raise IlocoError(f"claims: no claims about figure {figure!r} (figures: {', '.join(FIGURES)})")
    return tuple(c for c in CLAIMS if _figure(c) == figure)


def tables_of(figure: str) -> dict[str, str]:
    """The result tables the claims about ``figure`` read: name → path."""
    names = {t for c in of_figure(figure) for t in c.tables}
    return {name: path for name, path in TABLES.items() if name in names}


def check_settings(settings: dict) -> dict:
    missing = [k for k in SETTINGS if k not in settings]
    if missing:
        raise IlocoError(f"claims: settings lack {', '.join(missing)}")
    return settings


def evaluate(tables: dict[str, pd.DataFrame], settings: dict, figure: str | None = None) -> pd.DataFrame:
    """One row per claim (per claim about ``figure`` when given): measured value, reference,
    relation, tolerance and whether it holds.

    A claim whose tables lack what it needs is an error naming the claim (a broken table is
    not a failed claim)."""
    check_settings(settings)
    rows = []
    for c in of_figure(figure):
        missing = [t for t in c.tables if t not in tables]
        if missing:
            raise IlocoError(f"claim {c.name}: no table {', '.join(missing)}")
        try:
            value, ref = c.measure(tables, settings)
        except (KeyError, IndexError, ValueError, ZeroDivisionError) as exc:
            raise IlocoError(f"claim {c.name}: cannot evaluate on tables {', '.join(c.tables)} ({exc!r})") from None
        rows.append(
            {
                "claim": c.name,
                "family": c.family,
                "measured": float(value),
                "op": c.op,
                "reference": float(ref),
                "tol": c.tol,
                "holds": c.holds(float(value), float(ref)),
                "target": c.target,
            }
        )
    return pd.DataFrame(rows)


def failures(result: pd.DataFrame) -> list[str]:
    """Names of the claims that do not hold."""
    return list(result.loc[~result["holds"].astype(bool), "claim"])


def _num(x: float) -> str:
    if math.isinf(x):
        return r"\ensuremath{\infty}"
    if math.isnan(x):
        return "n/a"
    return paper.sci(x, 3)


def latex(result: pd.DataFrame, scale: str) -> str:
    """The appendix table: claim, measured value, relation to the reference with its
    tolerance, and PASS or a red FAIL; plus macros with the counts for the text."""
    by_name = {c.name: c for c in CLAIMS}
    n_pass = int(result["holds"].sum())
    out = [
        "% Generated by `iloco claims` from the result tables. Do not edit.\n",
        paper._cmd("ClaimsTotal", str(len(result))),
        paper._cmd("ClaimsPassed", str(n_pass)),
        paper._cmd("ClaimsScale", scale),
        "\\newcommand{\\ClaimsTable}{%\n",
        "\\begin{longtable}{@{}>{\\raggedright\\arraybackslash}p{0.5\\textwidth}llll@{}}\n\\toprule\n",
        "Claim & measured & relation & tolerance & \\\\\n\\midrule\n\\endhead\n",
    ]
    for r in result.itertuples():
        c = by_name[r.claim]
        status = "PASS" if r.holds else "\\textcolor{red}{\\textbf{FAIL}}"
        rel = f"${_TEX_OPS[r.op]}$ {_num(r.reference)}"
        out.append(f"{c.text} [\\texttt{{{r.claim}}}] & {_num(r.measured)} & {rel} & {_num(r.tol)} & {status} \\\\\n")
    out.append("\\bottomrule\n\\end{longtable}}\n")
    return "".join(out)


_PLAIN = (
    ("\\ge", "≥ "),
    ("\\infty", "∞"),
    ("\\alpha", "α"),
    ("\\ell_", "ℓ"),
    ("\\Delta", "Δ"),
    ("\\rho", "ρ"),
    ("^\\star", "*"),
    ("\\ln(10)\\|\\hat w\\|", "ln(10)‖ŵ‖"),
    ("\\,\\%", " %"),
    ("$", ""),
)


def markdown() -> str:
    """The claims as a Markdown table for the README's reviewer guide (LaTeX made plain)."""
    lines = ["| claim | family | statement | rebuilt by |", "|---|---|---|---|"]
    for c in CLAIMS:
        text = c.text
        for tex, plain in _PLAIN:
            text = text.replace(tex, plain)
        lines.append(f"| `{c.name}` | {c.family} | {text} | `./repro paper {c.target}` |")
    return "\n".join(lines) + "\n"
