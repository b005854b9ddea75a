"""The ``iloco`` subcommands of NL (nonlinear networks and classification): each workflow rule of it calls one."""

from __future__ import annotations

import argparse

from iloco.core.cli import (
    add_bench,
    add_job,
    checkpointed,
    job_device,
    job_settings,
    write_with_provenance,
)


def cmd_nl1_run(a) -> None:
    from iloco.nl import separable

    cfg = job_settings(a, "nl1-run", ("losses", "max_steps", "random"))
    device = job_device(a)
    with checkpointed(a) as ckpt:
        write_with_provenance(a, separable.run_nl1(cfg, a.seed, device, not a.quiet, ckpt), device)


def cmd_nl1_macros(a) -> None:
    from iloco.core import io
    from iloco.nl import macros as nl_macros
    from iloco.nl import tables as nl_tables

    io.write_text(a.out, nl_macros.nl1_macros(io.read_table(a.table, nl_tables.NL1_COLUMNS)))


def cmd_nl2_teacher(a) -> None:
    from iloco.nl import rich_lazy

    cfg = job_settings(a, "nl2-teacher", ("init_scales", "width"))
    device = job_device(a)
    with checkpointed(a) as ckpt:
        write_with_provenance(a, rich_lazy.run_teacher_regimes(cfg, a.seed, device, not a.quiet, ckpt), device)


def cmd_nl2_digits(a) -> None:
    import torch

    from iloco.nl import rich_lazy

    cfg = job_settings(a, "nl2-digits", ("init_scales", "hidden", "ranks"))
    device = job_device(a)
    if device.type != "cpu":  # small dense nets: the CPU path is used on every machine
        device = torch.device("cpu")
    with checkpointed(a) as ckpt:
        write_with_provenance(a, rich_lazy.run_digits(cfg, a.seed, not a.quiet, ckpt), device)


def cmd_nl2_macros(a) -> None:
    from iloco.core import io
    from iloco.nl import macros as nl_macros
    from iloco.nl import tables as nl_tables

    teacher = io.read_table(a.teacher, nl_tables.NL2_TEACHER_COLUMNS)
    digits = io.read_table(a.digits, nl_tables.NL2_DIGITS_COLUMNS)
    io.write_text(a.out, nl_macros.nl2_macros(teacher, digits))


def cmd_bench_nl(a) -> None:
    from iloco.core import io
    from iloco.nl import bench as nl_bench

    table = nl_bench.nl_trainer(a.instances, a.n, a.d, a.steps, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommands to the ``iloco`` parser."""
    s = add_job(
        sub, "nl1-run", "GD on separable data, logistic and exponential loss, vs the SVM (NL1)", "nl1", True, table=True
    )
    s.set_defaults(func=cmd_nl1_run)

    s = sub.add_parser("nl1-macros", help="LaTeX macros of the NL1 numbers")
    s.add_argument("--table", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_nl1_macros)

    s = add_job(
        sub,
        "nl2-teacher",
        "wide two-layer students from several init scales: rich vs lazy (NL2)",
        "nl2.teacher",
        True,
        table=True,
    )
    s.set_defaults(func=cmd_nl2_teacher)

    s = add_job(
        sub, "nl2-digits", "MLPs on digits: spectra and rank-k truncation (NL2)", "nl2.digits", True, table=True
    )
    s.set_defaults(func=cmd_nl2_digits)

    s = sub.add_parser("nl2-macros", help="LaTeX macros of the NL2 numbers")
    s.add_argument("--teacher", required=True)
    s.add_argument("--digits", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_nl2_macros)

    help = "NL1 trainer: batched vs per-trial loop, GD steps per second"
    add_bench(sub, "bench-nl", help, cmd_bench_nl, instances=32, n=200, d=50, steps=500)
