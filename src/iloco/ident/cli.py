"""The ``iloco`` subcommands of ID (identifying networks from queries): each workflow rule of it calls one."""

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


def cmd_id1_sweep(a) -> None:
    from iloco.ident import shallow

    cfg = job_settings(a, "id1-sweep", (a.sweep,))
    device = job_device(a)
    common = {k: v for k, v in cfg.items() if k not in shallow.SWEEPS}
    table = shallow.run_sweep(a.sweep, cfg[a.sweep], common, a.seed, device, progress=not a.quiet)
    write_with_provenance(a, table, device)


def cmd_id2_sweep(a) -> None:
    from iloco.ident import two_layer

    cfg = job_settings(a, "id2-sweep", ("widths", "n_hessians", "d", "trials"))
    device = job_device(a)
    write_with_provenance(a, two_layer.run_two_layer(cfg, a.seed, device, progress=not a.quiet), device)


def cmd_id2_regime(a) -> None:
    from iloco.ident import regime

    cfg = job_settings(a, "id2-regime", regime.KEYS)
    device = job_device(a)
    write_with_provenance(a, regime.regime_sweep(cfg, a.seed, device, progress=not a.quiet), device)


def cmd_id3_train(a) -> None:
    from iloco.core import io
    from iloco.ident import chain as ident_chain

    cfg = job_settings(a, "id3-train", ("teachers", "train", "init_scales"))
    device = job_device(a)
    with checkpointed(a) as ckpt:
        arrays = ident_chain.train_chain(cfg, a.seed, device, progress=not a.quiet, checkpoint=ckpt)
        io.save_npz(a.out, **arrays)


def cmd_id3_identify(a) -> None:
    from iloco.core import io
    from iloco.ident import chain as ident_chain

    cfg = job_settings(a, "id3-identify", ("identify", "baseline", "delta", "n_test"))
    device = job_device(a)
    arrays = io.load_npz(a.students, ident_chain.CHAIN_KEYS)
    write_with_provenance(a, ident_chain.identify_chain(arrays, cfg, a.seed, device, progress=not a.quiet), device)


def cmd_id3_budget(a) -> None:
    from iloco.ident import chain as ident_chain

    cfg = job_settings(a, "id3-budget", ("budget", "baseline", "identify"))
    device = job_device(a)
    write_with_provenance(a, ident_chain.run_budget(ident_chain.budget_spec(cfg), a.seed, device, not a.quiet), device)


def cmd_id23_macros(a) -> None:
    from iloco.core import io
    from iloco.ident import macros as ident_macros
    from iloco.ident import tables as ident_tables

    two = io.read_table(a.two_layer, ident_tables.ID2_COLUMNS)
    regime = io.read_table(a.regime, ident_tables.ID2_REGIME_COLUMNS)
    chain = io.read_table(a.chain, ident_tables.ID3_CHAIN_COLUMNS)
    budget = io.read_table(a.budget, ident_tables.ID3_BUDGET_COLUMNS)
    io.write_text(a.out, ident_macros.id23_macros(two, regime, chain, budget))


def cmd_id1_macros(a) -> None:
    from iloco.core import io
    from iloco.ident import macros as ident_macros
    from iloco.ident import tables as ident_tables

    tables = {
        path.split("/")[-1].removesuffix(".csv"): io.read_table(path, ident_tables.ID1_COLUMNS) for path in a.tables
    }
    io.write_text(a.out, ident_macros.id1_macros(tables))


def cmd_bench_id(a) -> None:
    from iloco.core import io
    from iloco.ident import bench as ident_bench

    table = ident_bench.id_identify(a.instances, a.d, a.m, a.n_hessians, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommands to the ``iloco`` parser."""
    s = sub.add_parser("id1-sweep", help="identify seeded shallow networks from queries, one ID1 sweep")
    s.add_argument("--sweep", required=True, help="recovery | noise | wide | queries")
    s.add_argument("--settings", required=True, help="the config's id1 section as JSON")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--config-hash", required=True)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_id1_sweep)

    s = add_job(
        sub, "id2-sweep", "identify first-layer and entangled weights of two-layer networks (ID2)", "id2", table=True
    )
    s.set_defaults(func=cmd_id2_sweep)

    s = add_job(sub, "id2-regime", "the ID2 regime map: radius x d x widths x shift scale", "id2", table=True)
    s.set_defaults(func=cmd_id2_regime)

    s = add_job(sub, "id3-train", "train over-parameterized students on teachers' data by GD (ID3)", "id3", True)
    s.set_defaults(func=cmd_id3_train)

    s = add_job(
        sub, "id3-identify", "identify trained students from queries, compress; Adam baseline (ID3)", "id3", table=True
    )
    s.add_argument("--students", required=True, help="the students file of id3-train")
    s.set_defaults(func=cmd_id3_identify)

    s = add_job(sub, "id3-budget", "identification vs Adam at equal query budgets (ID3)", "id3", table=True)
    s.set_defaults(func=cmd_id3_budget)

    s = sub.add_parser("id23-macros", help="LaTeX macros of the ID2 and ID3 numbers")
    s.add_argument("--two-layer", required=True)
    s.add_argument("--regime", required=True)
    s.add_argument("--chain", required=True)
    s.add_argument("--budget", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_id23_macros)

    s = sub.add_parser("id1-macros", help="LaTeX macros of the ID1 section")
    s.add_argument("--tables", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_id1_macros)

    help = "shallow-network identification: batched vs per-instance, instances per second"
    add_bench(sub, "bench-id", help, cmd_bench_id, instances=16, d=20, m=20, n_hessians=25)
