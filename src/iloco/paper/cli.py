"""The ``iloco`` subcommands of the paper: claims, generated constants, the provenance appendix
and the LaTeX build. Each workflow rule of it calls one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iloco.core.cli import (
    job_settings,
    named_tables,
    with_provenance,
)
from iloco.core.errors import IlocoError


def cmd_latex(a) -> None:
    from iloco.paper import latex

    latex.build_pdf(a.tex, a.out, a.workdir)


def cmd_claims(a) -> None:
    from iloco.core import claims, io

    if a.list:
        print(claims.markdown(), end="")
        return
    need = ("tables", "settings", "scale", "out_csv") + (() if a.figure else ("out_tex",))
    for flag in need:
        if getattr(a, flag) is None:
            raise IlocoError(f"claims: --{flag.replace('_', '-')} is required")
    claims.of_figure(a.figure)  # an unknown figure is named before any table is read
    result = claims.evaluate(named_tables(a.tables), job_settings(a, "claims", claims.SETTINGS), a.figure)
    failed = claims.failures(result)
    if failed and a.on_fail == "error":
        for r in result[~result["holds"].astype(bool)].itertuples():
            print(
                f"iloco: claim {r.claim} does not hold: measured {r.measured:.4g}, needs {r.op} {r.reference:.4g}"
                f" (tolerance {r.tol:g})",
                file=sys.stderr,
            )
        raise IlocoError(
            f"{len(failed)} of {len(result)} claims do not hold at {a.scale} scale ({', '.join(failed)});"
            " set paper.claims: mark to build the paper with them marked"
        )
    io.write_table(a.out_csv, with_provenance(result, a.config_hash))
    if a.out_tex:
        io.write_text(a.out_tex, claims.latex(result, a.scale))


def cmd_constants_macros(a) -> None:
    from iloco.core import io
    from iloco.paper import constants

    io.write_text(a.out, constants.constants_macros(job_settings(a, "constants-macros", ("lr_tol_loss",))))


def cmd_provenance(a) -> None:
    from iloco.archive import store
    from iloco.core import io
    from iloco.paper import appendix

    manifest = store.read_manifest(Path(a.archive[0]).parent) if a.archive else None
    archived = appendix.archived_times(manifest) if manifest else None
    times = appendix.job_times(a.benchmarks)
    tex = appendix.provenance_tex(named_tables(a.tables), times, a.config_hash, a.scale, archived)
    io.write_text(a.out, tex)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommands to the ``iloco`` parser."""
    s = sub.add_parser("claims", help="evaluate every claim of the paper on the result tables (pass/fail table)")
    s.add_argument("--tables", nargs="+", help="NAME=PATH of each result table (the families' spec tables)")
    s.add_argument("--settings", help="JSON with the thresholds the claims use")
    s.add_argument("--scale")
    s.add_argument("--on-fail", choices=("error", "mark"), default="error")
    s.add_argument("--config-hash", default="")
    s.add_argument("--out-csv")
    s.add_argument("--out-tex")
    s.add_argument("--figure", help="only the claims about this figure (e.g. nl1_separable); CSV only")
    s.add_argument("--list", action="store_true", help="print the claims as a Markdown table and exit")
    s.set_defaults(func=cmd_claims)

    s = sub.add_parser("constants-macros", help="LaTeX macros of settings, code constants and published values")
    s.add_argument("--settings", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_constants_macros)

    s = sub.add_parser("provenance", help="LaTeX macros of the provenance appendix (build identity, job times)")
    s.add_argument("--tables", nargs="+", required=True)
    s.add_argument("--benchmarks", nargs="+", required=True, help="the benchmark files of this build's jobs")
    s.add_argument("--config-hash", required=True)
    s.add_argument("--scale", required=True)
    s.add_argument("--archive", nargs="*", default=[], help="the paper-scale archive's manifest.json (if any)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_provenance)

    s = sub.add_parser("latex", help="build a PDF with latexmk, atomically")
    s.add_argument("--tex", required=True)
    s.add_argument("--workdir", required=True, help="folder for latexmk's auxiliary files")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_latex)
