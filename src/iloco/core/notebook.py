"""Run a figure notebook with papermill, atomically, and report a failing cell in one line.

``iloco notebook IN OUT -p name value ...`` executes IN with the parameters into a temporary
file beside OUT and renames it onto OUT only when every cell ran: a failed or killed run leaves
no executed notebook behind (papermill's own CLI leaves its output, here the old
``*.part.ipynb``, and prints a traceback). Cell outputs still go to stderr (the job's log).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from iloco.core.errors import IlocoError
from iloco.core.io import atomic_path


def parse_value(text: str) -> int | float | bool | str:
    """A ``-p`` value as papermill's CLI reads it: int, float, True/False, else the string."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(text, text)


def run(notebook: str | os.PathLike, out: str | os.PathLike, parameters: dict) -> None:
    """Execute ``notebook`` with ``parameters`` into ``out``; IlocoError names the failing cell."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook, out = Path(notebook), Path(out)
    if not notebook.is_file():
        raise IlocoError(f"{notebook}: notebook not found")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("papermill")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with atomic_path(out) as tmp:
            papermill.execute_notebook(
                str(notebook),
                str(tmp),
                parameters=parameters,
                kernel_name="python3",
                log_output=True,
                progress_bar=False,
            )
            _record_output_path(tmp, out)
    except PapermillExecutionError as exc:
        what = exc.evalue if exc.ename == "IlocoError" else f"{exc.ename}: {exc.evalue}"
        what = " ".join(str(what).split())  # one line
        raise IlocoError(f"{notebook}: cell {exc.exec_count} failed: {what}; nothing written to {out}") from None
    finally:
        log.removeHandler(handler)


def _record_output_path(tmp: Path, out: Path) -> None:
    """Papermill records the temporary name as the output path; record the final one."""
    import nbformat

    nb = nbformat.read(tmp, as_version=nbformat.NO_CONVERT)
    nb.metadata.setdefault("papermill", {})["output_path"] = str(out)
    nbformat.write(nb, tmp)
