"""The families of the paper and what each declares once.

Every family package (``iloco.lr``, ``iloco.sp``, ``iloco.ident``, ``iloco.nl``) has a torch-free
``spec`` module with a :class:`Family`: its figures (and the benchmark files of the jobs behind
each), its result tables, its generated macro files, the wildcard values of its jobs, and its
cross-key config checks. The Snakefile, the claims and the provenance appendix read these
declarations; nothing lists a family's figures, tables or jobs a second time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: The family packages, in the paper's order of sections.
NAMES = ("lr", "sp", "ident", "nl")


@dataclass(frozen=True)
class Family:
    """One family's declarations (see the module docstring).

    ``figures``: figure stem → patterns of the benchmark files (``<dir>/<job>``, relative to
    ``results/benchmarks``) of the jobs behind it, shared upstream jobs included.
    ``tables``: name → path of each result table that macros and claims read.
    ``macros``: stems of the generated macro files ``paper/generated/<stem>.tex``.
    ``wildcards``: config → {rule: {wildcard: values}} for every rule with wildcards.
    ``check``: config → None; raises IlocoError naming the key on a cross-key rule.
    ``memory``: config → [(key, bytes, what)], the largest allocation of each of its jobs
    (float64 numbers of the dominant arrays; ``core.memory`` checks them against the machine).
    """

    name: str
    figures: dict[str, tuple[str, ...]]
    tables: dict[str, str]
    macros: tuple[str, ...]
    wildcards: Callable[[dict[str, Any]], dict[str, dict[str, list]]]
    check: Callable[[dict[str, Any]], None] = field(default=lambda config: None)
    memory: Callable[[dict[str, Any]], list[tuple[str, int, str]]] = field(default=lambda config: [])


def families() -> tuple[Family, ...]:
    """Every family's declaration, in the paper's order."""
    return tuple(importlib.import_module(f"iloco.{name}.spec").FAMILY for name in NAMES)


def figures() -> dict[str, tuple[str, ...]]:
    """Figure stem → benchmark patterns of its jobs, over all families."""
    return {stem: jobs for fam in families() for stem, jobs in fam.figures.items()}


def tables() -> dict[str, str]:
    """Result table name → path, over all families."""
    return {name: path for fam in families() for name, path in fam.tables.items()}


def macros() -> list[str]:
    """Every family's generated macro files."""
    return [f"paper/generated/{stem}.tex" for fam in families() for stem in fam.macros]


def wildcards(config: dict[str, Any]) -> dict[str, dict[str, list]]:
    """Rule → wildcard values of this config's jobs, over all families."""
    return {rule: wc for fam in families() for rule, wc in fam.wildcards(config).items()}


def check(config: dict[str, Any]) -> None:
    """Every family's cross-key config rules."""
    for fam in families():
        fam.check(config)
