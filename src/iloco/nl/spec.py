"""NL's declarations (torch-free; the Snakefile reads them when it parses): figures, tables,
macro files, jobs' wildcards, the cross-key config checks, and the published values."""

from __future__ import annotations

from iloco.core.errors import IlocoError
from iloco.core.family import Family
from iloco.core.memory import F64

#: Soudry, Hoffer, Nacson, Gunasekar, Srebro (2018), Figure 1: the support vectors of class +1
#: (class -1 mirrored) and the homogeneous hard-margin SVM they define (margin 1).
SOUDRY_SUPPORT = ((0.5, 1.5), (1.5, 0.5))
SOUDRY_SVM = (0.5, 0.5)


def _check(config: dict) -> None:
    """A student at least as wide as its teacher."""
    nl2 = config["nl2"]["teacher"]
    if nl2["width"] < nl2["teacher_width"]:
        raise IlocoError(f"config: nl2.teacher.width: {nl2['width']} must be >= teacher_width = {nl2['teacher_width']}")


def _memory(config: dict) -> list[tuple[str, int, str]]:
    """NL1's batched linear and homogeneous runs, NL2's teacher students."""
    nl1, tea = config["nl1"], config["nl2"]["teacher"]
    rnd, hom = nl1["random"], nl1["homogeneous"]
    per = (rnd["n"] + rnd["d"] + hom["width"]) * hom["width"] * len(hom["archs"])
    students = (tea["n_train"] + tea["n_test"] + tea["d"]) * tea["width"]
    return [
        ("nl1.random", F64 * rnd["instances"] * len(nl1["losses"]) * rnd["n"] * rnd["d"], "instances x losses x n x d"),
        ("nl1.homogeneous", F64 * hom["instances"] * per, "instances x archs x (n + d + width) x width"),
        (
            "nl2.teacher",
            F64 * tea["teachers"] * len(tea["init_scales"]) * students,
            "teachers x scales x inputs x width",
        ),
    ]


FAMILY = Family(
    name="nl",
    figures={"nl1_separable": ("nl1/*",), "nl2_rich_lazy": ("nl2/*",)},
    tables={
        "nl1": "results/nl1/separable.csv",
        "nl2_teacher": "results/nl2/teacher.csv",
        "nl2_digits": "results/nl2/digits.csv",
    },
    macros=("nl1", "nl2"),
    wildcards=lambda config: {"nl2_run": {"part": ["teacher", "digits"]}},
    check=_check,
    memory=_memory,
)
