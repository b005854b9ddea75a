"""NL's declarations (torch-free; the Snakefile reads them when it parses): figures, tables,
macro files, jobs' wildcards, the cross-key config checks, and the published values."""

from __future__ import annotations

from iloco.core.errors import IlocoError
from iloco.core.family import Family

#: Soudry, Hoffer, Nacson, Gunasekar, Srebro (2018), Figure 1: the support vectors of class +1
#: (class -1 mirrored) and the homogeneous hard-margin SVM they define (margin 1).
SOUDRY_SUPPORT = ((0.5, 1.5), (1.5, 0.5))
SOUDRY_SVM = (0.5, 0.5)


def _check(config: dict) -> None:
    """A student at least as wide as its teacher."""
    nl2 = config["nl2"]["teacher"]
    if nl2["width"] < nl2["teacher_width"]:
        raise IlocoError(f"config: nl2.teacher.width: {nl2['width']} must be >= teacher_width = {nl2['teacher_width']}")


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
)
