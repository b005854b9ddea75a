"""Claims as checks: every result the paper states is declared once, in its family's
``claims`` module, as a :class:`Claim` with a predicate over the result tables and a tolerance.

The workflow evaluates all claims at the scale being built, writes a pass/fail table with the
measured values (CSV, and a LaTeX table for the paper's appendix) and, by config
(``paper.claims``), either fails the build naming the claims that do not hold (``error``) or
marks them in red in the paper (``mark``).
"""

from __future__ import annotations

import functools
import importlib
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from iloco.core import family
from iloco.core import tex as core_tex
from iloco.core.errors import IlocoError


def table_arguments(paths, names=None) -> str:
    """``NAME=PATH`` arguments of the claims and provenance jobs (``paths``: a rule's input;
    ``names``: the tables to pass, every family's by default)."""
    return " ".join(f"{name}={paths[name]}" for name in (family.tables() if names is None else names))


#: Thresholds from the config that claims use (the same the macros and figures use).
SETTINGS = ("sp1_bp_within", "sp1_l2_within", "lr_recover_within")


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


def _figure(c: Claim) -> str:
    """The figure a claim is about: the stem of its target."""
    return c.target.removeprefix("figures/").removesuffix(".pdf")


@functools.cache
def all_claims() -> tuple[Claim, ...]:
    """Every family's claims (each family's ``claims.CLAIMS``), in the paper's order."""
    return tuple(c for name in family.NAMES for c in importlib.import_module(f"iloco.{name}.claims").CLAIMS)


def figures() -> tuple[str, ...]:
    """The figures claims are about, in the order of the claims."""
    return tuple(dict.fromkeys(map(_figure, all_claims())))


def of_figure(figure: str | None) -> tuple[Claim, ...]:
    """The claims about ``figure`` (all of them for None); an unknown figure is an error."""
    if figure is None:
        return all_claims()
    if figure not in figures():
        raise IlocoError(f"claims: no claims about figure {figure!r} (figures: {', '.join(figures())})")
    return tuple(c for c in all_claims() if _figure(c) == figure)


def tables_of(figure: str) -> dict[str, str]:
    """The result tables the claims about ``figure`` read: name → path."""
    names = {t for c in of_figure(figure) for t in c.tables}
    return {name: path for name, path in family.tables().items() if name in names}


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
    return core_tex.sci(x, 3)


def latex(result: pd.DataFrame, scale: str) -> str:
    """The appendix table: claim, measured value, relation to the reference with its
    tolerance, and PASS or a red FAIL; plus macros with the counts for the text."""
    by_name = {c.name: c for c in all_claims()}
    n_pass = int(result["holds"].sum())
    out = [
        "% Generated by `iloco claims` from the result tables. Do not edit.\n",
        core_tex.newcommand("ClaimsTotal", str(len(result))),
        core_tex.newcommand("ClaimsPassed", str(n_pass)),
        core_tex.newcommand("ClaimsScale", scale),
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
    for c in all_claims():
        text = c.text
        for tex, plain in _PLAIN:
            text = text.replace(tex, plain)
        lines.append(f"| `{c.name}` | {c.family} | {text} | `./repro paper {c.target}` |")
    return "\n".join(lines) + "\n"
