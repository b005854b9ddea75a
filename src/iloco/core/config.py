"""Configuration: load, validate against the JSON schema, and hash.

Validation runs before any job starts; the first error becomes one line that names the key
(as a dotted path) and what is allowed there.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from iloco.core import family, memory
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
        hint = ""
        if isinstance(err.instance, str) and _parses_as(err.instance, s["type"]):
            hint = (
                " - a string: Snakemake's --config passes values inside {...} or [...] as strings;"
                " set it in a --configfile instead"
            )
        return f"{where}: {err.instance!r} has the wrong type (expected {s['type']}){hint}"
    if v == "uniqueItems":
        return f"{where}: {err.instance!r} has non-unique elements (the items must be distinct)"
    if v == "enum":
        return f"{where}: {err.instance!r} is not allowed (one of: {', '.join(map(str, s['enum']))})"
    if v in _RANGE:
        bounds = " and ".join(f"{_RANGE[b]} {s[b]}" for b in _RANGE if b in s and b in _RANGE)
        what = "number of items" if v in ("minItems", "maxItems") else "value"
        return f"{where}: {err.instance!r} is out of range ({what} must be {bounds})"
    return f"{where}: {err.message}"


def _parses_as(text: str, types) -> bool:
    """Whether ``text`` reads as a YAML value of one of the JSON-schema ``types``."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    kinds = {"integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}
    types = [types] if isinstance(types, str) else types
    if isinstance(value, bool) and "boolean" not in types:
        return False
    return any(isinstance(value, kinds.get(t, ())) for t in types)


def _non_finite(value: Any, parts: tuple = ()) -> tuple | None:
    """The path of the first NaN or infinity in ``value`` (the schema's ranges never reject them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return parts
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(item, (*parts, key))
        if found is not None:
            return found
    return None


def check_device(config: dict[str, Any]) -> None:
    """``device: cuda`` needs a GPU that torch sees on this machine (torch is imported only then)."""
    if config.get("device") != "cuda":
        return
    import torch

    if not torch.cuda.is_available():
        raise IlocoError(
            "config: device: 'cuda' but torch sees no GPU on this machine"
            " (allowed: auto, cpu, or cuda on a machine with a GPU)"
        )


def validate(config: dict[str, Any], schema_path: Path = SCHEMA, device: bool = True) -> dict[str, Any]:
    """Check ``config`` against the schema, every family's cross-key rules and memory estimates;
    raise IlocoError if bad. ``device``: also check that ``device: cuda`` has a GPU here (off
    where jobs run elsewhere)."""
    if not isinstance(config, dict):
        raise IlocoError(f"config: must be a mapping of keys to values, not {type(config).__name__}")
    where = _non_finite(config)
    if where is not None:
        value = config
        for key in where:
            value = value[key]
        raise IlocoError(f"config: {_path(where)}: {value} is not a finite number (allowed: finite numbers in range)")
    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), _path(e.absolute_path)))
    if errors:
        raise IlocoError(f"config: {_describe(errors[0])}")
    family.check(config)
    memory.check(config)
    if device:
        check_device(config)
    return config


class _StrictLoader(yaml.SafeLoader):
    """YAML loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}' (each key may appear once)", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


_MISSING = object()


def _unique_pairs(path: Path, pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise IlocoError(f"{path}: duplicate key '{key}' (each key may appear once)")
    return dict(pairs)


def read(path: str | Path) -> dict[str, Any]:
    """Read a config file (YAML or JSON, UTF-8, a mapping, no key twice) without validating it.

    Every failure is an IlocoError that names the file and, for a syntax error, the line.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise IlocoError(f"{path}: is a directory, not a config file") from None
    except OSError as exc:
        raise IlocoError(f"{path}: cannot read config ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise IlocoError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at line {line}); save it as UTF-8"
        ) from None
    try:  # JSON first, as Snakemake reads it (YAML 1.1 would read JSON's 1e-10 as a string)
        config = json.loads(text, object_pairs_hook=lambda pairs: _unique_pairs(path, pairs))
    except json.JSONDecodeError:
        config = _MISSING
    try:
        if config is _MISSING:
            config = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise IlocoError(f"{path}: not valid YAML{where}: {problem}") from None
    if config is None:
        raise IlocoError(f"{path}: config is empty (expected a mapping of keys to values, as in config/config.yaml)")
    if not isinstance(config, dict):
        raise IlocoError(
            f"{path}: config must be a mapping of keys to values, not a {type(config).__name__}"
            " (see config/config.yaml)"
        )
    return config


def load(path: str | Path, device: bool = True) -> dict[str, Any]:
    """Read a YAML config file and validate it; errors name the file."""
    config = read(path)
    try:
        return validate(config, device=device)
    except IlocoError as exc:
        raise IlocoError(f"{path}: {exc}") from None


def config_hash(*parts: Any) -> str:
    """A short, stable hash of the config values that determined a result."""
    return digest(list(parts))[:12]
