"""Provenance columns for every result row: commit, config hash, versions, device."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
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
