"""Provenance columns for every result row: commit, config hash, versions, device."""

from __future__ import annotations

import functools
import hashlib
import subprocess
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("iloco", "torch", "numpy", "scipy")


@functools.cache
def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when tracked files differ; ``unknown`` outside git."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha[:12] + ("-dirty" if dirty else "")


@functools.cache
def versions() -> str:
    """``name=version`` of the packages that shape the numbers, ``;``-separated."""
    out = []
    for name in PACKAGES:
        try:
            out.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name}=?")
    return ";".join(out)


def columns(config_hash: str) -> dict[str, str]:
    """The provenance columns shared by all rows of a table."""
    return {"commit": git_commit(), "config_hash": config_hash, "versions": versions()}


PACKAGE = Path(__file__).resolve().parents[1]


def code_digest(*packages: str) -> str:
    """SHA-256 (16 hex digits) of every module of the named ``iloco`` sub-packages (``core``,
    ``sp``, ``paper``, …), each file by its path and content.

    A parameter of the cheap downstream rules (figures, macros, claims, provenance): Snakemake
    re-runs a shell rule when its parameters change, not when the package it calls does. A job
    is given the packages it can run (its family and ``core``; the claims and the paper every
    family), whole, so no module it imports is missed. Training rules do not carry it: a
    refactor must not retrain (their code is in the checkpoint fingerprints' scope instead:
    inputs and parameters)."""
    files = []
    for name in packages:
        root = PACKAGE / name
        if not root.is_dir():
            raise ValueError(f"code_digest: no package iloco.{name}")
        files += sorted(root.rglob("*.py"))
    return files_digest(files, PACKAGE)


def files_digest(files, root: Path) -> str:
    """SHA-256 (16 hex digits) of modules under ``root``, each by its path and content."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]
