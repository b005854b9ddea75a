"""ID's declarations (torch-free; the Snakefile reads them when it parses): figures, tables,
macro files, jobs' wildcards, the cross-key config checks, and the published values."""

from __future__ import annotations

import math

from iloco.core.errors import IlocoError
from iloco.core.family import Family
from iloco.core.memory import F64

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
    for d in id2["regime"]["d"]:
        for m0, m1 in id2["regime"]["widths"]:
            if m0 <= d and (m1 > m0 or m0 + m1 > max_width(d)):
                raise IlocoError(
                    f"config: id2.regime.widths: [{m0}, {m1}] needs m1 <= m0 and m0 + m1 <= d(d-1)/2 for d = {d}"
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


def _queries(d: int, scheme: str) -> int:
    """Query points of one finite-difference Hessian (``networks.queries_per_hessian``)."""
    return 2 * d * d + 1 if scheme == "central" else (d + 1) * (d + 2) // 2


def _identify(trials: int, d: int, width: int, hessians: int, scheme: str, n_test: int = 0) -> int:
    """Bytes held by a batched identification: query stages of at least one point each
    (``fd_hessians`` splits larger ones), the Hessians, the test points."""
    stage = max(2**22 * (d + width) // d, trials * _queries(d, scheme) * (d + width))
    return F64 * (stage + trials * hessians * d * d + trials * n_test * (d + width))


def _memory(config: dict) -> list[tuple[str, int, str]]:
    """Every ID job's batched identification; ID3's training of the students."""
    id1, id2, id3 = config["id1"], config["id2"], config["id3"]
    rec, noise, wide, queries = (id1[k] for k in SWEEPS)
    d_max = max(queries["d"])
    sweeps = [
        ("id1.recovery", rec["d"], rec["m"], max(rec["n_hessians"])),
        ("id1.noise", noise["d"], noise["m"], noise["n_hessians"]),
        ("id1.wide", wide["d"], max(wide["m"]), math.ceil(wide["hessians_per_width"] * max(wide["m"]))),
        ("id1.queries", d_max, d_max, d_max + queries["extra_hessians"]),
    ]
    what = "trials x (queries of a Hessian + Hessians + test points)"
    out = [(key, _identify(id1["trials"], d, w, h, id1["scheme"], id1["n_test"]), what) for key, d, w, h in sweeps]
    width = max(m0 + m1 for m0, m1 in id2["widths"])
    out.append(("id2", _identify(id2["trials"], id2["d"], width, max(id2["n_hessians"]), id2["scheme"]), what))
    reg = id2["regime"]
    d, width = max(reg["d"]), max(m0 + m1 for m0, m1 in reg["widths"])
    hessians = math.ceil(reg["hessians_per_width"] * width)
    out.append(("id2.regime", _identify(reg["trials"], d, width, hessians, id2["scheme"]), what))
    d, width, ident, bud = id3["d"], id3["student_width"], id3["identify"], id3["budget"]
    train = F64 * id3["teachers"] * len(id3["init_scales"]) * (id3["n_train"] + id3["n_test"]) * (d + width)
    queries = _identify(id3["teachers"], d, width, ident["n_hessians"], ident["scheme"], id3["n_test"])
    out.append(("id3", max(train, queries), "teachers x students x inputs x (d + student_width)"))
    budget = _identify(bud["trials"], bud["d"], bud["m"], max(bud["n_hessians"]), ident["scheme"])
    out.append(("id3.budget", budget, what))
    return out


FAMILY = Family(
    name="ident",
    figures={
        "id1_identification": ("id1/*",),
        "id2_two_layer": ("id2/*", "id23/figures"),
        "id3_chain": ("id3/*", "id23/figures"),
    },
    tables={
        "id1_recovery": "results/id1/recovery.csv",
        "id2_regime": "results/id2/regime.csv",
        "id3_chain": "results/id3/chain.csv",
        "id3_budget": "results/id3/budget.csv",
    },
    macros=("id1", "id23"),
    wildcards=lambda config: {"id1_sweep": {"sweep": list(SWEEPS)}},
    check=_check,
    memory=_memory,
)
