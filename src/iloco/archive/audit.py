"""Audit of an archive: re-compute a random sample of its jobs from scratch and compare rows.

A *unit* is one ``results/<dir>/`` of the archive: the jobs that compute its tables (they share
instances and trained models, so they are re-run together). Units are drawn in a random order
(the seed is printed, so an audit can be repeated) and taken while the archive's recorded job
times fit the budget; each is re-computed by the workflow in a scratch directory, with no
archive there, and every row of its tables is compared with the archive's: numbers within
``rtol``/``atol``, everything else exactly; provenance and wall-time columns are not compared.
"""

from __future__ import annotations

import copy
import importlib
import io as _io
import random
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from iloco.archive import store
from iloco.core.config import load
from iloco.core.errors import IlocoError

REPO = Path(__file__).resolve().parents[3]
#: Columns that say who and when, not what: never compared.
PROVENANCE = ("commit", "config_hash", "versions", "device")
RTOL, ATOL = 1e-6, 1e-9


def skipped(column: str) -> bool:
    """Provenance and wall-time columns differ between two honest runs."""
    return column in PROVENANCE or column.endswith("time_s") or column == "wall_s"


def units(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``<dir>`` → its archived tables and the summed wall time of its jobs (seconds)."""
    out: dict[str, dict[str, Any]] = {}
    for path, entry in manifest["tables"].items():
        unit = out.setdefault(Path(path).parts[1], {"tables": [], "jobs": {}})
        unit["tables"].append(path)
        unit["jobs"].update({j: v["s"] for j, v in entry["jobs"].items()})
    for unit in out.values():
        unit["s"] = float(sum(unit["jobs"].values()))
    return out


def _describe(row: pd.Series, keys: list[str]) -> str:
    return ", ".join(f"{k}={row[k]}" for k in keys)


def _fmt(value: Any) -> str:
    return f"{value:.10g}" if isinstance(value, float | np.floating) else str(value)


#: A key column that is not in the table: a row's position among the rows that agree on the
#: other keys (tables with one row per trial, in trial order, and no trial column).
NTH = "_nth"


def _key_frame(table: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    cols = [k for k in keys if k != NTH]
    out = table[cols].copy()
    for k in cols:  # numbers as floats: a reduced table's 0.0s read back from CSV as integers
        if pd.api.types.is_numeric_dtype(out[k]) and not pd.api.types.is_bool_dtype(out[k]):
            out[k] = out[k].astype(float).round(12).map(lambda v: f"{v:.15g}")
    out = out.astype(str)
    if NTH in keys:
        out[NTH] = out.groupby(cols, sort=False).cumcount().astype(str) if cols else range(len(out))
    return out


def compare(
    path: str,
    archived: pd.DataFrame,
    fresh: pd.DataFrame,
    keys: tuple[str, ...] = (),
    rtol: float = RTOL,
    atol: float = ATOL,
) -> list[str]:
    """Mismatches between an archived table and its re-computation, one line each, naming the
    row (its position in the archived table and its key columns) and the column. With ``keys``
    the re-computed rows are matched to the archive's by those columns (a re-computation at a
    reduced config gives a subset); without, row by row in order."""
    if list(archived.columns) != list(fresh.columns):
        return [f"{path}: columns differ: archived {list(archived.columns)}, re-computed {list(fresh.columns)}"]
    if keys:
        index = {tuple(r): i for i, r in enumerate(_key_frame(archived, keys).itertuples(index=False))}
        where = [index.get(tuple(r)) for r in _key_frame(fresh, keys).itertuples(index=False)]
        missing = [j for j, i in enumerate(where) if i is None]
        if missing:
            who = _describe(_key_frame(fresh, keys).iloc[missing[0]], list(keys))
            return [f"{path}: re-computed row ({who}) is not in the archive ({len(missing)} such rows)"]
        archived = archived.iloc[where].reset_index()
        positions = archived.pop("index").to_numpy()
    else:
        if len(archived) != len(fresh):
            return [f"{path}: {len(archived)} archived rows, {len(fresh)} re-computed"]
        positions = np.arange(len(archived))
    cols = [c for c in archived.columns if not skipped(c)]
    shown = [k for k in keys if k != NTH] or [c for c in cols if not pd.api.types.is_float_dtype(archived[c])][:8]
    out = []
    for c in cols:
        a, f = archived[c], fresh[c]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(f):
            x, y = a.to_numpy(float), f.to_numpy(float)
            same = np.isclose(x, y, rtol=rtol, atol=atol) | (np.isnan(x) & np.isnan(y))
        else:  # both missing is equal (pandas' string dtype keeps NaN missing through astype(str))
            same = ((a.astype(str) == f.astype(str)).fillna(False) | (a.isna() & f.isna())).to_numpy(bool)
        for i in np.flatnonzero(~same):
            out.append(
                f"{path}: row {positions[i]} ({_describe(archived.iloc[i], shown)}) column {c}:"
                f" archived {_fmt(a.iloc[i])}, re-computed {_fmt(f.iloc[i])}"
            )
    return out


def family_audit(name: str):
    """The family's audit declarations (KEYS, REDUCE, SHARE), empty where it has none."""
    try:
        return importlib.import_module(f"iloco.{name}.audit")
    except ModuleNotFoundError:
        return None


def reduced(config: dict[str, Any], changes, rng: random.Random) -> tuple[dict[str, Any], list[str]]:
    """``config`` with one section's audit changes applied, and what was changed (for the log).
    A change is ``(key path, value)``, ``(key path, "sample", k)`` (a seeded sample of k of the
    list's values, in order) or ``(key path, "at_most", k)`` (the value, capped at k)."""
    config = copy.deepcopy(config)
    said = []
    for change in changes:
        section, *path = change[0]
        node = config[section]
        for key in path[:-1]:
            node = node[key]
        if len(change) == 3 and change[1] == "sample":
            values = node[path[-1]]
            keep = sorted(rng.sample(range(len(values)), min(change[2], len(values))))
            node[path[-1]] = [values[i] for i in keep]
        elif len(change) == 3 and change[1] == "at_most":
            node[path[-1]] = min(node[path[-1]], change[2])
        else:
            node[path[-1]] = change[1]
        said.append(f"{'.'.join(change[0])}={node[path[-1]]}")
    return config, said


def recompute(
    config_file: Path, unit: str, tables: list[str], workdir: Path, timeout_s: float, cores: str = "all"
) -> None:
    """Run the workflow for ``tables`` in ``workdir`` (no archive there: everything computed)."""
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [
        str(snakemake),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config_file.resolve()),
        "--cores",
        cores,
        *tables,
        "--quiet",
        "all",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise IlocoError(f"audit: re-computing {unit} took over {timeout_s:.0f} s (killed); raise --budget-s") from None
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise IlocoError(f"audit: re-computing {unit} failed (snakemake exit {proc.returncode}): {tail}")


def plan(available: dict[str, dict[str, Any]], budget_s: float, rng: random.Random, only: list[str] | None):
    """The units to re-compute, in a random order, each whole or reduced (its family's
    ``audit.REDUCE``), taken while their estimated time (the archive's job times, times the
    reduction's ``SHARE``) fits the budget. Returns [(unit, changes or None, estimate)]."""
    order = list(only) if only else sorted(available)
    if not only:
        rng.shuffle(order)
    chosen, spent = [], 0.0
    for name in order:
        unit = available[name]
        fam = family_audit(store.table_family(unit["tables"][0]))
        changes = getattr(fam, "REDUCE", {}).get(name)
        options = [(None, unit["s"])]
        if changes:
            options.append((changes, unit["s"] * getattr(fam, "SHARE", {}).get(name, 1.0)))
        if only:  # asked for by name: the smallest re-computation, whatever the budget
            options = options[-1:]
        for how, cost in options:
            if only or spent + cost <= budget_s:
                chosen.append((name, how, cost))
                spent += cost
                break
    return chosen


def repeat_command(config_file: str, seed: int, budget_s: float, only: list[str] | None) -> str:
    """The command that repeats this audit: the same seed, and the options that change the draw."""
    out = f"./repro audit --seed {seed}"
    if Path(config_file) != Path("config/paper.yaml"):
        out += f" --configfile {config_file}"
    if budget_s != 600.0:
        out += f" --budget-s {budget_s:g}"
    if only:
        out += " --jobs " + " ".join(only)
    return out


def run(
    config_file: str,
    seed: int | None = None,
    budget_s: float = 600.0,
    archive_root: str = "archive",
    workdir: str = "results/audit",
    only: list[str] | None = None,
    rtol: float = RTOL,
    atol: float = ATOL,
    cores: str = "all",
) -> list[str]:
    """Audit the archive of ``config_file``'s scale; raises IlocoError on any mismatch."""
    config_path = Path(config_file)
    config = load(config_path, device=False)
    out_dir = Path(archive_root) / config["paper"]["scale"]
    manifest = store.read_manifest(out_dir)
    if manifest is None:
        raise IlocoError(f"{out_dir}: no archive manifest to audit (./repro archive writes one)")
    seed = secrets.randbelow(10**6) if seed is None else seed
    print(
        f"iloco: audit: seed {seed} (repeat with: {repeat_command(config_file, seed, budget_s, only)})", file=sys.stderr
    )
    rng = random.Random(seed)
    available = units(manifest)
    for path, entry in sorted(manifest["tables"].items()):
        why = store.stale_reasons(config, entry)
        if why:
            print(f"iloco: audit: {path} is stale ({'; '.join(why)}): not audited", file=sys.stderr)
            available.pop(Path(path).parts[1], None)
    unknown = [u for u in only or () if u not in available]
    if unknown:
        have = ", ".join(sorted(available))
        raise IlocoError(f"audit: no current archived job group {', '.join(unknown)} (have: {have})")
    chosen = plan(available, budget_s, rng, only)
    if not chosen:
        cheapest = min(available, key=lambda n: available[n]["s"], default=None)
        raise IlocoError(
            f"audit: no archived job group fits --budget-s {budget_s:g}"
            + (f" (cheapest: {cheapest}, {available[cheapest]['s']:.0f} s)" if cheapest else "")
        )
    scratch = Path(workdir) / str(seed)
    problems, done = [], []
    for name, changes, estimate in chosen:
        unit = available[name]
        fam = family_audit(store.table_family(unit["tables"][0]))
        run_config, said = reduced(config, changes or (), rng)
        t0 = time.perf_counter()
        print(
            f"iloco: audit: re-computing {name} ({len(unit['jobs'])} jobs, {unit['s']:.0f} s in the archive"
            + (f"; reduced: {', '.join(said)}, about {estimate:.0f} s" if said else "")
            + ")",
            file=sys.stderr,
        )
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        cfg = scratch / "audit.yaml"
        cfg.write_text(yaml.safe_dump(run_config, sort_keys=False))
        recompute(cfg, name, unit["tables"], scratch, max(2 * budget_s, 3 * estimate + 120), cores)
        rows = 0
        for path in sorted(unit["tables"]):
            archived = pd.read_csv(_io.BytesIO(store.unpack(out_dir, manifest["tables"][path])))
            fresh = pd.read_csv(scratch / path)
            keys = getattr(fam, "KEYS", {}).get(path, ()) if said else ()
            rtol_here = max(rtol, getattr(fam, "RTOL", 0.0)) if said else rtol
            jobs = ", ".join(sorted(unit["jobs"]))
            problems += [f"jobs {jobs}: {p}" for p in compare(path, archived, fresh, keys, rtol_here, atol)]
            rows += len(fresh)
        done.append(name)
        took = time.perf_counter() - t0
        print(f"iloco: audit: {name}: {rows} rows compared (rtol {rtol_here:g}) in {took:.0f} s", file=sys.stderr)
    shutil.rmtree(scratch, ignore_errors=True)
    if problems:
        for line in problems[:20]:
            print(f"iloco: audit: mismatch: {line}", file=sys.stderr)
        more = f" (first 20 shown of {len(problems)})" if len(problems) > 20 else ""
        raise IlocoError(f"audit: {len(problems)} archived values differ from their re-computation{more}")
    print(f"iloco: audit: passed ({', '.join(done)}; atol {atol:g})", file=sys.stderr)
    return done
