"""Configuration: load, validate against the JSON schema, and hash.

Validation runs before any job starts; the first error becomes one line that names the key
(as a dotted path) and what is allowed there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from iloco import spgrid
from iloco.errors import IlocoError
from iloco.io import digest

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

_RANGE = {  # lower bounds first: "value must be > 0 and <= 1"
    "minimum": ">=",
    "exclusiveMinimum": ">",
    "maximum": "<=",
    "exclusiveMaximum": "<",
    "minItems": "at least",
    "maxItems": "at most",
}


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def _describe(err: jsonschema.ValidationError) -> str:
    where = _path(err.absolute_path)
    v, s = err.validator, err.schema
    if v == "additionalProperties":
        allowed = sorted(s.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        key = extra[0] if extra else "?"
        full = f"{where}.{key}" if err.absolute_path else key
        return f"unknown key '{full}' (allowed here: {', '.join(allowed)})"
    if v == "required":
        key = err.message.split("'")[1]
        full = f"{where}.{key}" if err.absolute_path else key
        return f"missing key '{full}'"
    if v == "type":
        return f"{where}: {err.instance!r} has the wrong type (expected {s['type']})"
    if v == "enum":
        return f"{where}: {err.instance!r} is not allowed (one of: {', '.join(map(str, s['enum']))})"
    if v in _RANGE:
        bounds = " and ".join(f"{_RANGE[b]} {s[b]}" for b in _RANGE if b in s and b in _RANGE)
        what = "number of items" if v in ("minItems", "maxItems") else "value"
        return f"{where}: {err.instance!r} is out of range ({what} must be {bounds})"
    return f"{where}: {err.message}"


def validate(config: dict[str, Any], schema_path: Path = SCHEMA) -> dict[str, Any]:
    """Check ``config`` against the schema and the cross-key rules; raise IlocoError if bad."""
    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), _path(e.absolute_path)))
    if errors:
        raise IlocoError(f"config: {_describe(errors[0])}")
    sp1 = config["sp1"]
    if sp1["m"] >= sp1["n"]:
        raise IlocoError(f"config: sp1.m: {sp1['m']} must be < sp1.n = {sp1['n']} (underdetermined system)")
    if sp1["k"] > sp1["m"]:
        raise IlocoError(f"config: sp1.k: {sp1['k']} must be <= sp1.m = {sp1['m']}")
    depths = [r["depth"] for r in sp1["runs"]]
    if len(set(depths)) != len(depths):
        raise IlocoError(f"config: sp1.runs: depths {depths} must be distinct")
    sp2 = config["sp2"]
    depths = [r["depth"] for r in sp2["runs"]]
    if len(set(depths)) != len(depths):
        raise IlocoError(f"config: sp2.runs: depths {depths} must be distinct")
    need = spgrid.memory_bytes(sp2["n"], sp2["deltas"], sp2["rhos"], sp2["trials"], sp2["shards"])
    if need > sp2["memory_limit_gb"] * 2**30:
        raise IlocoError(
            f"config: sp2: a training shard needs {need / 2**30:.3g} GiB (rows x largest m x n, float64),"
            f" above sp2.memory_limit_gb = {sp2['memory_limit_gb']}; raise sp2.shards or lower sp2.trials or sp2.n"
        )
    for b in config["sp3"]["sgd"]["batches"]:
        if b >= sp1["m"]:
            raise IlocoError(f"config: sp3.sgd.batches: {b} must be < sp1.m = {sp1['m']} (full-batch GD is always run)")
    id1 = config["id1"]
    widths = [
        ("recovery", id1["recovery"]["d"], [id1["recovery"]["m"]]),
        ("noise", id1["noise"]["d"], [id1["noise"]["m"]]),
    ]
    widths.append(("wide", id1["wide"]["d"], id1["wide"]["m"]))
    for sweep, d, ms in widths:
        for m in ms:
            if m > d * (d - 1) // 2:
                raise IlocoError(f"config: id1.{sweep}.m: {m} exceeds d(d-1)/2 = {d * (d - 1) // 2} for d = {d}")
    id2 = config["id2"]
    for m0, m1 in id2["widths"]:
        if not 1 <= m1 <= m0 <= id2["d"] or m0 + m1 > id2["d"] * (id2["d"] - 1) // 2:
            raise IlocoError(
                f"config: id2.widths: [{m0}, {m1}] needs 1 <= m1 <= m0 <= d = {id2['d']} and m0 + m1 <= d(d-1)/2"
            )
    id3 = config["id3"]
    if id3["teacher_width"] > id3["d"] * (id3["d"] - 1) // 2:
        raise IlocoError(f"config: id3.teacher_width: {id3['teacher_width']} exceeds d(d-1)/2 for d = {id3['d']}")
    if id3["student_width"] < id3["teacher_width"]:
        raise IlocoError(
            f"config: id3.student_width: {id3['student_width']} must be >= teacher_width = {id3['teacher_width']}"
        )
    bud = id3["budget"]
    if bud["m"] > bud["d"] * (bud["d"] - 1) // 2:
        raise IlocoError(f"config: id3.budget.m: {bud['m']} exceeds d(d-1)/2 = {bud['d'] * (bud['d'] - 1) // 2}")
    nl2 = config["nl2"]["teacher"]
    if nl2["width"] < nl2["teacher_width"]:
        raise IlocoError(f"config: nl2.teacher.width: {nl2['width']} must be >= teacher_width = {nl2['teacher_width']}")
    _check_lr(config["lr"])
    return config


def _check_lr(lr: dict) -> None:
    """Cross-key rules of the LR section: rank < d, observations <= d², sorted and distinct."""
    problems = [(f"lr.{t}", lr[t]) for t in ("completion", "sensing")]
    problems += [("lr.dynamics", {**lr["dynamics"], "observations": [lr["dynamics"]["observations"]]})]
    problems += [("lr.flow", lr["flow"])]
    for key, p in problems:
        d = p["d"]
        if p["rank"] >= d:
            raise IlocoError(f"config: {key}.rank: {p['rank']} must be < {key}.d = {d} (a low-rank ground truth)")
        for m in p["observations"]:
            if m > d * d:
                raise IlocoError(f"config: {key}.observations: {m} exceeds d^2 = {d * d} entries for d = {d}")
        if len(set(p["observations"])) != len(p["observations"]):
            raise IlocoError(f"config: {key}.observations: {p['observations']} must be distinct")
    if lr["dynamics"]["kmax"] > lr["dynamics"]["d"]:
        raise IlocoError(f"config: lr.dynamics.kmax: {lr['dynamics']['kmax']} exceeds lr.dynamics.d")


def load(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise IlocoError(f"{path}: cannot read config ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise IlocoError(f"{path}: not valid YAML{where}") from None
    if not isinstance(config, dict):
        raise IlocoError(f"{path}: config must be a mapping of keys to values")
    return validate(config)


def config_hash(*parts: Any) -> str:
    """A short, stable hash of the config values that determined a result."""
    return digest(list(parts))[:12]
