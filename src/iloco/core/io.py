"""Atomic output and checked input: a killed job never leaves a file that looks finished."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from iloco.core.errors import IlocoError

_UMASK = os.umask(0)
os.umask(_UMASK)
_FULL = (errno.ENOSPC, errno.EDQUOT)  # a full disk or quota: one line naming the file, not a traceback


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file keeps the suffix of ``path`` so that writers which pick their format
    from the file name (matplotlib, numpy) still work.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_partials(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        tmp = Path(tmp)
        tmp.chmod(0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs get the usual permissions
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno not in _FULL:
            raise
        raise IlocoError(
            f"{path}: cannot write ({os.strerror(exc.errno)}); nothing was written, free space and re-run"
        ) from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def remove_partials(path: str | os.PathLike) -> None:
    """Delete temporary siblings of ``path`` left by a write that a kill cut short."""
    path = Path(path)
    for stale in path.parent.glob(f".{path.stem}.*{path.suffix}"):
        stale.unlink(missing_ok=True)


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes; a missing file is an error that names it."""
    try:
        with open(path, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise IlocoError(f"{path}: cannot read ({exc.strerror})") from None


def digest(obj) -> str:
    """SHA-256 of a JSON-serializable object in canonical form."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """Save arrays to an ``.npz`` file atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_npz(path: str | os.PathLike, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load the named arrays of an ``.npz`` file; a missing, corrupt or incomplete file is an error."""
    path = Path(path)
    if not path.is_file():
        raise IlocoError(f"{path}: file not found")
    if not zipfile.is_zipfile(path):  # np.load would call any other bytes "pickled data"
        raise IlocoError(f"{path}: corrupt input, not an .npz archive (delete it and re-run to rebuild it)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise IlocoError(f"{path}: corrupt input, missing arrays {', '.join(missing)}")
            return {k: data[k] for k in keys}
    except IlocoError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise IlocoError(f"{path}: corrupt input ({type(exc).__name__}: {exc})") from None


def write_table(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Write a tidy table as CSV atomically (full float precision, no index)."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.17g")


def read_table(path: str | os.PathLike, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV table and check that the given columns are present."""
    path = Path(path)
    if not path.is_file():
        raise IlocoError(f"{path}: file not found")
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise IlocoError(f"{path}: corrupt table ({type(exc).__name__})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise IlocoError(f"{path}: table lacks columns {', '.join(missing)}")
    return table
