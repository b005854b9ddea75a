"""The result archive: the tidy tables of one scale, compressed, with a manifest that says what
made them, so that a PDF at that scale builds in minutes and stays checkable.

``archive/<scale>/`` holds, per result table ``results/<dir>/<name>.csv``, the gzipped table
``<dir>/<name>.csv.gz`` and a sidecar ``<dir>/<name>.json`` (its key, sha256, rows, commit,
versions, device and the wall time of each job behind it), and ``manifest.json``, the union of
the sidecars with the sha256 of every file. A table's **key** is the hash of the config sections
it is computed from (with the seed and device) and the digest of the code that computes it; an
archived table is used only while both match (:func:`restore`), and a stale one is named and
re-computed, never used silently.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform
import sys
import time
from base64 import urlsafe_b64encode
from pathlib import Path
from typing import Any

import pandas as pd

from iloco.core import family, io, provenance
from iloco.core.config import config_hash
from iloco.core.errors import IlocoError

PACKAGE = Path(__file__).resolve().parents[1]
#: The shared modules whose code shapes the numbers of every table (the rest of ``core`` is
#: plumbing and presentation: command line, claims, LaTeX, plot style).
COMPUTE_CORE = ("engine.py", "io.py", "stats.py")
#: A family's modules that present or check its numbers; they are not part of a table's key.
PRESENTATION = ("figures.py", "macros.py", "claims.py", "bench.py", "audit.py")
#: Table directories computed with another family's code too (NL2's teachers are ident networks).
USES = {"nl2": ("ident",)}
#: Modules that compute only the named directories' tables: the other directories' keys leave
#: them out, so that work on NL2's trainer does not make NL1's archived table stale, nor work
#: on the student trainer (``ident/chain.py``: ID3 and NL2) ID1's or ID2's. A module is listed
#: only if the other directories' jobs never import it (``ident/cli.py`` imports ``chain``
#: inside ID3's commands only).
ONLY_FOR = {
    "nl/rich_lazy.py": ("nl2",),
    "nl/analysis.py": ("nl2",),
    "ident/chain.py": ("id3", "nl2"),
    "ident/two_layer.py": ("id2",),
    "ident/regime.py": ("id2",),
}
#: Config sections a table reads besides its own directory's (SP3 trains on SP1's instances).
SECTIONS = {"sp3": ("sp1",)}
#: Tables that read only a part of their directory's section (dotted path): LR2 and LR3 do not
#: depend on LR1's settings, so a change to LR1 keeps them (the rules' own hashes say the same).
PART = {
    "results/lr/dynamics.csv": ("lr.dynamics",),
    "results/lr/flow_depths.csv": ("lr.flow",),
    "results/lr/flow_gd.csv": ("lr.flow",),
    # ID3's budget comparison reads what ``ident.chain.budget_spec`` takes, not the chain's
    # training or identification settings (tested against budget_spec)
    "results/id3/budget.csv": (
        "id3.activation",
        "id3.nonortho",
        "id3.theta_scale",
        "id3.n_test",
        "id3.baseline",
        "id3.identify.h",
        "id3.identify.scheme",
        "id3.budget",
    ),
}
MANIFEST = "manifest.json"


def table_family(path: str) -> str:
    """The family of ``results/<dir>/<name>.csv``, from the families' declared tables."""
    wanted = Path(path).parts[1] if len(Path(path).parts) > 2 else None
    for fam in family.families():
        if any(Path(p).parts[1] == wanted for p in fam.tables.values()):
            return fam.name
    raise IlocoError(f"{path}: not a result table of any family (results/<dir>/<name>.csv)")


def sections(path: str) -> tuple[str, ...]:
    """The config sections the table at ``path`` is computed from."""
    if Path(path).as_posix() in PART:
        return PART[Path(path).as_posix()]
    own = Path(path).parts[1]
    return (own, *SECTIONS.get(own, ()))


def _section(config: dict[str, Any], dotted: str) -> Any:
    value = config
    for part in dotted.split("."):
        value = value[part]
    return value


def compute_digest(name: str, table_dir: str) -> str:
    """SHA-256 (16 hex) of the code that computes the tables of ``results/<table_dir>`` (family
    ``name``): ``core``'s numerical modules, the family's modules but the presentation ones and
    those :data:`ONLY_FOR` other directories, and the code the directory :data:`USES`. A change
    to a figure, a macro or a claim keeps the archive valid; a change to training does not."""
    files = [PACKAGE / "core" / m for m in COMPUTE_CORE]
    for pkg in (name, *USES.get(table_dir, ())):
        for p in sorted((PACKAGE / pkg).rglob("*.py")):
            only = ONLY_FOR.get(p.relative_to(PACKAGE).as_posix(), (table_dir,))
            if p.name not in PRESENTATION and table_dir in only:
                files.append(p)
    return provenance.files_digest(files, PACKAGE)


def table_key(config: dict[str, Any], path: str) -> dict[str, str]:
    """What an archived table must match: the hash of its config sections (with seed and
    device) and its family's compute digest."""
    name = table_family(path)
    secs = sections(path)
    return {
        "config_hash": config_hash(config["seed"], config["device"], {s: _section(config, s) for s in secs}),
        "code": compute_digest(name, Path(path).parts[1]),
    }


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _one(table: pd.DataFrame, column: str) -> str:
    values = sorted(map(str, table[column].dropna().unique())) if column in table.columns else []
    return ";".join(values) if values else "?"


def machine() -> str:
    """Where the archive was written (its jobs ran there): OS, CPU, cores, memory."""
    try:
        mem = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        mem = ""
    cpu = platform.processor() or platform.machine()
    return f"{platform.system()} {cpu}, {os.cpu_count()} cores{mem}"


def _jobs(benchmarks: list[str]) -> dict[str, dict[str, float]]:
    """Job (``<dir>/<job>``) → wall seconds and peak RSS, from Snakemake benchmark files."""
    from iloco.paper.appendix import job_times

    return {r.job: {"s": round(r.s, 3), "max_rss_mb": r.max_rss_mb} for r in job_times(benchmarks).itertuples()}


def write_table(table_path: str, out_dir: str | Path, config: dict[str, Any], benchmarks: list[str]) -> dict[str, Any]:
    """Archive ``results/<dir>/<name>.csv`` into ``out_dir`` (``archive/<scale>``): the gzipped
    table (byte-reproducible: no time stamp) and its sidecar. Returns the sidecar."""
    src = Path(table_path)
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise IlocoError(f"{src}: cannot read ({exc.strerror})") from None
    table = io.read_table(src)
    rel = Path(*src.parts[1:])  # <dir>/<name>.csv
    gz = Path(out_dir) / rel.with_suffix(".csv.gz")
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    with io.atomic_path(gz) as tmp:
        tmp.write_bytes(packed)
    side = {
        "table": src.as_posix(),
        "file": rel.with_suffix(".csv.gz").as_posix(),
        "sha256": _sha(data),
        "sha256_gz": _sha(packed),
        "rows": len(table),
        "bytes": len(data),
        "family": table_family(src.as_posix()),
        "sections": list(sections(src.as_posix())),
        **table_key(config, src.as_posix()),
        "config_hash_all": config_hash(config),
        "commit": _one(table, "commit"),
        "versions": _one(table, "versions"),
        "device": _one(table, "device"),
        "jobs": _jobs(benchmarks),
        "machine": machine(),
    }
    io.write_text(gz.with_suffix("").with_suffix(".json"), json.dumps(side, indent=1, sort_keys=True) + "\n")
    return side


def write_manifest(out_dir: str | Path, scale: str) -> dict[str, Any]:
    """Merge the sidecars of ``out_dir`` into ``manifest.json``: every table's entry, the sha256
    of every archived file, and the jobs' summed wall time."""
    out_dir = Path(out_dir)
    tables, files = {}, {}
    for side_path in sorted(out_dir.rglob("*.json")):
        if side_path.name == MANIFEST:
            continue
        side = _read_json(side_path)
        gz = out_dir / side["file"]
        if not gz.is_file():
            raise IlocoError(f"{side_path}: its table {gz} is missing")
        tables[side["table"]] = side
        for f in (side_path, gz):
            files[f.relative_to(out_dir).as_posix()] = io.file_digest(f)
    jobs = {job: v["s"] for side in tables.values() for job, v in side["jobs"].items()}
    manifest = {
        "scale": scale,
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tables": tables,
        "files": files,
        "jobs_s": dict(sorted(jobs.items())),
        "total_s": round(sum(jobs.values()), 1),
    }
    io.write_text(out_dir / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise IlocoError(f"{path}: corrupt archive file ({type(exc).__name__})") from None


def read_manifest(out_dir: str | Path) -> dict[str, Any] | None:
    """The manifest of ``archive/<scale>``, or None when there is none."""
    path = Path(out_dir) / MANIFEST
    if not path.exists():
        return None
    manifest = _read_json(path)
    if not isinstance(manifest.get("tables"), dict):
        raise IlocoError(f"{path}: corrupt archive manifest (no 'tables')")
    return manifest


def unpack(out_dir: str | Path, entry: dict[str, Any]) -> bytes:
    """The archived table's CSV bytes, checked against the manifest's sha256."""
    gz = Path(out_dir) / entry["file"]
    try:
        data = gzip.decompress(gz.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise IlocoError(f"{gz}: corrupt archive file ({type(exc).__name__})") from None
    if _sha(data) != entry["sha256"]:
        raise IlocoError(f"{gz}: does not match the sha256 in the manifest (edited or corrupt)")
    return data


def stale_reasons(config: dict[str, Any], entry: dict[str, Any]) -> list[str]:
    """Why an archived table does not match this config and code (empty: it matches)."""
    want = table_key(config, entry["table"])
    why = []
    if want["config_hash"] != entry["config_hash"]:
        why.append(f"config {'/'.join(entry['sections'])} differs")
    if want["code"] != entry["code"]:
        why.append(f"code of iloco.{entry['family']} differs")
    return why


def _forget(path: str) -> None:
    """Drop Snakemake's record of ``path`` (its params and code at the last run here), so that
    a restored table is judged by the archive's key, not by the run that last wrote the file."""
    b64 = urlsafe_b64encode(path.encode()).decode()
    for kind in ("metadata", "incomplete"):
        Path(".snakemake", kind, b64).unlink(missing_ok=True)


def _write_benchmark(job: str, times: dict[str, float]) -> None:
    path = Path("results/benchmarks", f"{job}.tsv")
    text = f"s\tmax_rss\n{times['s']}\t{times['max_rss_mb']}\n"
    if not path.exists() or path.read_text() != text:
        io.write_text(path, text)


def restore(config: dict[str, Any], archive_root: str | Path = "archive", quiet: bool = False) -> set[str]:
    """Put the archived tables that match ``config`` and the code into ``results/`` (with their
    jobs' benchmark times) and return their paths. A stale one is named on one line and, where
    ``results/`` holds the archive's copy of it, removed, so that the build re-computes it."""
    out_dir = Path(archive_root) / config["paper"]["scale"]
    manifest = read_manifest(out_dir)
    if manifest is None:
        return set()
    valid = set()
    for path, entry in sorted(manifest["tables"].items()):
        target = Path(path)
        why = stale_reasons(config, entry)
        current = target.read_bytes() if target.is_file() else None
        if why:
            if current is not None and _sha(current) == entry["sha256"]:
                target.unlink()
            if not quiet:
                print(f"iloco: archive: {path} is stale ({'; '.join(why)}): re-computing it", file=sys.stderr)
            continue
        if current is None or _sha(current) != entry["sha256"]:
            data = unpack(out_dir, entry)
            with io.atomic_path(target) as tmp:
                tmp.write_bytes(data)
            _forget(path)
        for job, times in entry["jobs"].items():
            _write_benchmark(job, times)
        valid.add(path)
    if valid and not quiet:
        said = f"{len(valid)} table(s) of {out_dir} match this config and code: used as they are"
        print(f"iloco: archive: {said}", file=sys.stderr)
    return valid
