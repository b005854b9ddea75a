"""The ``iloco`` subcommands of the archive: write a table into it, merge the manifest, audit."""

from __future__ import annotations

import json
from pathlib import Path

from iloco.core.errors import IlocoError


def _config(text: str) -> dict:
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise IlocoError(f"--config: not JSON ({exc})") from None
    if not isinstance(config, dict):
        raise IlocoError("--config: not a JSON object")
    return config


def cmd_table(a) -> None:
    from iloco.archive import store

    store.write_table(a.table, a.out_dir, _config(a.config), a.benchmarks)


def cmd_manifest(a) -> None:
    from iloco.archive import store

    roots = [Path(d) for d in a.dirs] or sorted(p for p in Path("archive").glob("*") if p.is_dir())
    for out_dir in roots:
        if not out_dir.is_dir():
            raise IlocoError(f"{out_dir}: no such archive directory")
        manifest = store.write_manifest(out_dir, out_dir.name)
        print(
            f"iloco: archive: {out_dir / store.MANIFEST}: {len(manifest['tables'])} tables, "
            f"{len(manifest['jobs_s'])} jobs, {manifest['total_s'] / 3600:.2f} h of job time"
        )


def cmd_audit(a) -> None:
    from iloco.archive import audit

    audit.run(a.configfile, a.seed, a.budget_s, a.archive, a.workdir, a.jobs, cores=a.cores)


def register(sub) -> None:
    s = sub.add_parser("archive-table", help="gzip one result table into archive/<scale>/ with its sidecar")
    s.add_argument("--table", required=True)
    s.add_argument("--out-dir", required=True)
    s.add_argument("--config", required=True, help="the build's config as JSON")
    s.add_argument("--benchmarks", nargs="*", default=[], help="benchmark files of the jobs behind the table")
    s.set_defaults(func=cmd_table)
    s = sub.add_parser("archive-manifest", help="merge the sidecars of archive/<scale>/ into manifest.json")
    s.add_argument("dirs", nargs="*", help="archive directories (default: every archive/<scale>/)")
    s.set_defaults(func=cmd_manifest)
    s = sub.add_parser("audit", help="re-compute a random sample of archived rows and compare")
    s.add_argument("--configfile", default="config/paper.yaml")
    s.add_argument("--seed", type=int, default=None, help="sample seed (default: drawn and printed)")
    s.add_argument("--budget-s", type=float, default=600.0, help="time budget of the re-computation")
    s.add_argument("--archive", default="archive")
    s.add_argument("--workdir", default="results/audit")
    s.add_argument("--jobs", nargs="*", default=None, help="audit these archived jobs (default: a random sample)")
    s.add_argument("--cores", default="all", help="Snakemake's --cores for the re-computation (1 on a busy machine)")
    s.set_defaults(func=cmd_audit)
