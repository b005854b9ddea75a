"""Configuration: load, validate against the JSON schema, and hash.

Validation runs before any job starts; the first error becomes one line that names the key
(as a dotted path) and what is allowed there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from iloco.core import family
from iloco.core.errors import IlocoError
from iloco.core.io import digest

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"

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
    """Check ``config`` against the schema and every family's cross-key rules; raise IlocoError if bad."""
    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), _path(e.absolute_path)))
    if errors:
        raise IlocoError(f"config: {_describe(errors[0])}")
    family.check(config)
    return config


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
