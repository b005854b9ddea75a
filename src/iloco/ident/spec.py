"""ID's declarations (torch-free; the Snakefile reads them when it parses): figures, tables,
macro files, jobs' wildcards, the cross-key config checks, and the published values."""

from __future__ import annotations

from iloco.core.errors import IlocoError
from iloco.core.family import Family

#: The ID1 sweeps, one job each.
SWEEPS = ("recovery", "noise", "wide", "queries")

#: Fornasier, Klock, Rauchensteiner (2021), robust identification of shallow networks, d = m = 20:
#: no network fully recovered up to ``none_up_to`` Hessians, 85-100 % from ``from_nh`` on.
ID1_FORNASIER = {"d": 20, "m": 20, "none_up_to": 16, "from_nh": 20, "low": 0.85, "high": 1.0}


def max_width(d: int) -> int:
    """The largest width allowed in R^d: d(d−1)/2.

    A dimension count puts the limit of identifiability from the span there: the rank-one
    symmetric matrices form a d-dimensional cone in the d(d+1)/2-dimensional space of
    symmetric matrices, so an m-dimensional span meets it in a set of dimension at least
    d + m − d(d+1)/2, which exceeds the m lines of the a_i a_iᵀ once m > d(d−1)/2.
    """
    return d * (d - 1) // 2


def _check(config: dict) -> None:
    """Widths the Hessians can separate (≤ d(d−1)/2), two-layer width order, student ≥ teacher."""
    id1 = config["id1"]
    widths = [(sweep, id1[sweep]["d"], [id1[sweep]["m"]]) for sweep in ("recovery", "noise")]
    widths.append(("wide", id1["wide"]["d"], id1["wide"]["m"]))
    for sweep, d, ms in widths:
        for m in ms:
            if m > max_width(d):
                raise IlocoError(f"config: id1.{sweep}.m: {m} exceeds d(d-1)/2 = {max_width(d)} for d = {d}")
    id2 = config["id2"]
    for m0, m1 in id2["widths"]:
        if not 1 <= m1 <= m0 <= id2["d"] or m0 + m1 > max_width(id2["d"]):
            raise IlocoError(
                f"config: id2.widths: [{m0}, {m1}] needs 1 <= m1 <= m0 <= d = {id2['d']} and m0 + m1 <= d(d-1)/2"
            )
    id3 = config["id3"]
    if id3["teacher_width"] > max_width(id3["d"]):
        raise IlocoError(f"config: id3.teacher_width: {id3['teacher_width']} exceeds d(d-1)/2 for d = {id3['d']}")
    if id3["student_width"] < id3["teacher_width"]:
        raise IlocoError(
            f"config: id3.student_width: {id3['student_width']} must be >= teacher_width = {id3['teacher_width']}"
        )
    bud = id3["budget"]
    if bud["m"] > max_width(bud["d"]):
        raise IlocoError(f"config: id3.budget.m: {bud['m']} exceeds d(d-1)/2 = {max_width(bud['d'])}")


FAMILY = Family(
    name="ident",
    figures={
        "id1_identification": ("id1/*",),
        "id2_two_layer": ("id2/*", "id23/figures"),
        "id3_chain": ("id3/*", "id23/figures"),
    },
    tables={
        "id1_recovery": "results/id1/recovery.csv",
        "id3_chain": "results/id3/chain.csv",
        "id3_budget": "results/id3/budget.csv",
    },
    macros=("id1", "id23"),
    wildcards=lambda config: {"id1_sweep": {"sweep": list(SWEEPS)}},
    check=_check,
)
