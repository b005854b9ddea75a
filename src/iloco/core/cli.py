"""The ``iloco`` command: every workflow rule calls one of its subcommands, so each stage also
runs (and is tested) without Snakemake. Each family registers its own subcommands (its
``cli.register``); this module holds what they share. Errors print as one line and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import sys

from iloco.core import family
from iloco.core.errors import IlocoError


# --------------------------------------------------------------------------- argument types
def floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


# --------------------------------------------------------------------------- what the jobs share
def job_settings(a, command: str, keys: tuple[str, ...] = ()) -> dict:
    """The ``--settings`` JSON of a job (its config section), with ``keys`` required in it."""
    try:
        cfg = json.loads(a.settings)
    except json.JSONDecodeError as exc:
        raise IlocoError(f"{command}: --settings is not valid JSON ({exc.msg})") from None
    if not isinstance(cfg, dict):
        raise IlocoError(f"{command}: --settings must be a JSON object")
    for key in keys:
        if key not in cfg:
            raise IlocoError(f"{command}: --settings has no key {key!r}")
    return cfg


#: Commands whose jobs run batched ``torch.linalg.solve`` on the CPU (ID's fits). With two or
#: more threads torch 2.13's batched LU (MKL inside torch's own OpenMP loop over the batch)
#: livelocks or fails ("Parameter 6 was incorrect on entry to DLASWP"): they get one thread.
ONE_THREAD = ("id1-", "id2-", "id3-", "bench-id")


def job_device(a):
    """The job's torch device (``--device``), with torch limited to ``--threads`` threads (one
    for :data:`ONE_THREAD` commands on a CPU with MKL, saying so)."""
    import torch

    from iloco.core import engine

    device = engine.resolve_device(a.device)
    threads = a.threads
    command = getattr(a, "command", "") or ""
    if threads > 1 and device.type == "cpu" and torch.backends.mkl.is_available() and command.startswith(ONE_THREAD):
        print(
            f"iloco: {command}: one thread, not {threads} (batched LU livelocks with more in torch 2.13)",
            file=sys.stderr,
        )
        threads = 1
    torch.set_num_threads(threads)
    return device


def with_provenance(table, config_hash: str, device=None):
    """``table`` with the provenance columns (and the device of its rows, when given)."""
    from iloco.core import engine, provenance

    if device is not None:
        table["device"] = engine.device_label(device)
    for key, value in provenance.columns(config_hash).items():
        table[key] = value
    return table


def write_with_provenance(a, table, device=None) -> None:
    """Write a job's result table to ``--out`` with its provenance columns."""
    from iloco.core import io

    io.write_table(a.out, with_provenance(table, a.config_hash, device))


#: Arguments that do not change a training's result (config_hash: provenance of the table only).
RUNTIME = ("func", "out", "checkpoint", "checkpoint_every_s", "quiet", "device", "threads", "config_hash")


def train_checkpoint(a, skip=RUNTIME):
    """The job's checkpoint (None without --checkpoint), fingerprinted by its arguments but
    ``skip`` and by the content of its ``--instances`` file, if any."""
    from iloco.core import engine, io

    if not a.checkpoint:
        return None
    job = {k: v for k, v in vars(a).items() if k not in skip}
    if "instances" in job:
        job["instances"] = io.file_digest(a.instances)
    return engine.Checkpoint(a.checkpoint, io.digest(job), a.checkpoint_every_s)


@contextlib.contextmanager
def checkpointed(a, skip=RUNTIME):
    """The job's checkpoint (``train_checkpoint``) for the block that trains and writes the
    output; removed once the block has finished, so it cannot be mistaken for a result."""
    ckpt = train_checkpoint(a, skip)
    yield ckpt
    if ckpt:
        ckpt.remove()


def named_tables(items: list[str]) -> dict:
    """NAME=PATH arguments → {name: table}; a malformed pair or a bad table names itself."""
    from iloco.core import io

    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise IlocoError(f"--tables: {item!r} is not NAME=PATH")
        out[name] = io.read_table(path)
    return out


# --------------------------------------------------------------------------- parser
def add_job(
    sub,
    name: str,
    help: str,
    section: str,
    checkpointed: bool = False,
    *,
    seeded: bool = True,
    device: bool = True,
    table: bool = False,
) -> argparse.ArgumentParser:
    """A subcommand taking the config values it depends on as ``--settings`` JSON (the one way a
    rule hands a job its config; wildcards stay flags), with a seed and a device when it uses them;
    ``table``: it writes a result table, whose provenance columns carry ``--config-hash``."""
    s = sub.add_parser(name, help=help)
    s.add_argument("--settings", required=True, help=f"the config's {section} values of this job, as JSON")
    if seeded:
        s.add_argument("--seed", type=int, required=True)
    if device:
        s.add_argument("--device", default="auto")
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--out", required=True)
    if table:
        s.add_argument("--config-hash", required=True)
    if checkpointed:
        s.add_argument("--checkpoint", help="save/resume the training state here (removed when the job ends)")
        s.add_argument("--checkpoint-every-s", type=float, default=300.0, help="seconds between checkpoints")
    return s


def add_bench(sub, name: str, help: str, func, **defaults) -> argparse.ArgumentParser:
    """A benchmark subcommand: its sizes as options with ``defaults`` (a list default takes
    comma-separated numbers), a device, a thread count and the output table."""
    s = sub.add_parser(name, help=help)
    for key, value in defaults.items():
        kind = floats if isinstance(value, list) else type(value)
        s.add_argument(f"--{key.replace('_', '-')}", type=kind, default=value)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=func)
    return s


def cmd_check_config(a) -> None:
    from iloco.core import config

    for path in a.files:
        config.load(path)
        print(f"{path}: ok")


def cmd_notebook(a) -> None:
    from iloco.core import notebook

    notebook.run(a.notebook, a.out, {name: notebook.parse_value(value) for name, value in a.parameters})


def build_parser() -> argparse.ArgumentParser:
    """The ``iloco`` parser: ``check-config``, then each family's subcommands and the paper's."""
    p = argparse.ArgumentParser(prog="iloco", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("check-config", help="validate config files against the schema")
    s.add_argument("files", nargs="+")
    s.set_defaults(func=cmd_check_config)
    s = sub.add_parser("notebook", help="run a figure notebook with papermill; writes OUT only if every cell ran")
    s.add_argument("notebook")
    s.add_argument("out")
    s.add_argument(
        "-p", "--parameter", dest="parameters", nargs=2, action="append", default=[], metavar=("NAME", "VALUE")
    )
    s.set_defaults(func=cmd_notebook)
    for name in (*family.NAMES, "paper", "archive"):
        importlib.import_module(f"iloco.{name}.cli").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except IlocoError as exc:
        print(f"iloco: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # numpy's _ArrayMemoryError too: one line, not its traceback
        msg = " ".join(str(exc).split()) or "allocation failed"
        print(f"iloco: error: {args.command}: out of memory ({msg}); lower the sizes in the config", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"iloco: error: {exc.filename or args.command}: {exc.strerror}; free space and re-run", file=sys.stderr)
        return 2
    return 0
