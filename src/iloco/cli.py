"""Command line: every workflow rule calls one of these subcommands, so each stage also
runs (and is tested) without Snakemake. Errors print as one line and exit with status 2."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from iloco.errors import IlocoError


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def cmd_check_config(a) -> None:
    from iloco import config

    for path in a.files:
        config.load(path)
        print(f"{path}: ok")


def cmd_sp1_data(a) -> None:
    from iloco import io, sp

    inst = sp.make_instances(a.n, a.m, a.k, a.instances, a.seed, a.nonzeros)
    io.save_npz(a.out, **inst)


def cmd_sp1_baselines(a) -> None:
    from iloco import io, sp

    inst = io.load_npz(a.instances, sp.INSTANCE_KEYS)
    base = sp.solve_baselines(inst)
    bad = [i for i, s in enumerate(base["bp_status"]) if s != 0]
    if bad:
        raise IlocoError(f"{a.instances}: HiGHS found no optimal basis-pursuit solution for instances {bad}")
    io.save_npz(a.out, **base)


def cmd_sp1_train(a) -> None:
    import torch

    from iloco import engine, io, sp

    torch.set_num_threads(a.threads)
    inst = io.load_npz(a.instances, sp.INSTANCE_KEYS)
    stop = engine.StopRule(a.max_steps, a.tol_loss, a.tol_change, a.check_every)
    device = engine.resolve_device(a.device)
    ckpt = _train_checkpoint(a, _RUNTIME)
    out = sp.train_arrays(inst, a.depth, a.alphas, stop, a.lr, device, engine.resolve_dtype(a.dtype), not a.quiet, ckpt)
    io.save_npz(a.out, **out)
    if ckpt:
        ckpt.remove()


def cmd_sp1_table(a) -> None:
    from iloco import io, provenance, sp

    inst = io.load_npz(a.instances, sp.INSTANCE_KEYS)
    base = io.load_npz(a.baselines, sp.BASELINE_KEYS)
    shards = {}
    for path in a.shards:
        sh = io.load_npz(path, sp.TRAIN_KEYS)
        shards[int(sh["depth"])] = sh
    potentials = {}
    for path in a.potentials or []:
        pot = io.load_npz(path, sp.POTENTIAL_KEYS)
        potentials[int(pot["depth"])] = pot
    table = sp.tabulate(inst, base, shards, potentials)
    for key, value in provenance.columns(a.config_hash).items():
        table[key] = value
    io.write_table(a.out, table)


def _settings(a, command: str, keys: tuple[str, ...] = ()) -> dict:
    """The --settings JSON of an ID job (a config section), with ``keys`` required in it."""
    import json

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


def _device(a):
    import torch

    from iloco import engine

    torch.set_num_threads(a.threads)
    return engine.resolve_device(a.device)


def _write_with_provenance(a, table, device) -> None:
    from iloco import engine, io, provenance

    table["device"] = engine.device_label(device)
    for key, value in provenance.columns(a.config_hash).items():
        table[key] = value
    io.write_table(a.out, table)


def cmd_id1_sweep(a) -> None:
    from iloco import ident

    cfg = _settings(a, "id1-sweep", (a.sweep,))
    device = _device(a)
    common = {k: v for k, v in cfg.items() if k not in ident.SWEEPS}
    table = ident.run_sweep(a.sweep, cfg[a.sweep], common, a.seed, device, progress=not a.quiet)
    _write_with_provenance(a, table, device)


def cmd_id2_sweep(a) -> None:
    from iloco import ident

    cfg = _settings(a, "id2-sweep", ("widths", "n_hessians", "d", "trials"))
    device = _device(a)
    _write_with_provenance(a, ident.run_two_layer(cfg, a.seed, device, progress=not a.quiet), device)


def cmd_id3_train(a) -> None:
    from iloco import engine, ident, io

    cfg = _settings(a, "id3-train", ("teachers", "train", "init_scales"))
    device = _device(a)
    ckpt = None
    if a.checkpoint:
        job = {"settings": cfg, "seed": a.seed}
        ckpt = engine.Checkpoint(a.checkpoint, io.digest(job), a.checkpoint_every_s)
    arrays = ident.train_chain(cfg, a.seed, device, progress=not a.quiet, checkpoint=ckpt)
    io.save_npz(a.out, **arrays)
    if ckpt:
        ckpt.remove()


def cmd_id3_identify(a) -> None:
    from iloco import ident, io

    cfg = _settings(a, "id3-identify", ("identify", "baseline", "delta", "n_test"))
    device = _device(a)
    arrays = io.load_npz(a.students, ident.CHAIN_KEYS)
    _write_with_provenance(a, ident.identify_chain(arrays, cfg, a.seed, device, progress=not a.quiet), device)


def cmd_id3_budget(a) -> None:
    from iloco import ident

    cfg = _settings(a, "id3-budget", ("budget", "baseline", "identify"))
    device = _device(a)
    _write_with_provenance(a, ident.run_budget(ident.budget_spec(cfg), a.seed, device, not a.quiet), device)


def cmd_nl1_run(a) -> None:
    from iloco import nl

    cfg = _settings(a, "nl1-run", ("losses", "max_steps", "random"))
    device = _device(a)
    ckpt = _train_checkpoint(a, _RUNTIME)
    _write_with_provenance(a, nl.run_nl1(cfg, a.seed, device, not a.quiet, ckpt), device)
    if ckpt:
        ckpt.remove()


def cmd_nl1_macros(a) -> None:
    from iloco import io, paper

    io.write_text(a.out, paper.nl1_macros(io.read_table(a.table, paper.NL1_COLUMNS)))


def cmd_nl2_teacher(a) -> None:
    from iloco import nl

    cfg = _settings(a, "nl2-teacher", ("init_scales", "width"))
    device = _device(a)
    ckpt = _train_checkpoint(a, _RUNTIME)
    _write_with_provenance(a, nl.run_teacher_regimes(cfg, a.seed, device, not a.quiet, ckpt), device)
    if ckpt:
        ckpt.remove()


def cmd_nl2_digits(a) -> None:
    import torch

    from iloco import nl

    cfg = _settings(a, "nl2-digits", ("init_scales", "hidden", "ranks"))
    device = _device(a)
    if device.type != "cpu":  # small dense nets: the CPU path is used on every machine
        device = torch.device("cpu")
    ckpt = _train_checkpoint(a, _RUNTIME)
    _write_with_provenance(a, nl.run_digits(cfg, a.seed, not a.quiet, ckpt), device)
    if ckpt:
        ckpt.remove()


def cmd_nl2_macros(a) -> None:
    from iloco import io, paper

    teacher = io.read_table(a.teacher, paper.NL2_TEACHER_COLUMNS)
    digits = io.read_table(a.digits, paper.NL2_DIGITS_COLUMNS)
    io.write_text(a.out, paper.nl2_macros(teacher, digits))


def cmd_id23_macros(a) -> None:
    from iloco import io, paper

    two = io.read_table(a.two_layer, paper.ID2_COLUMNS)
    chain = io.read_table(a.chain, paper.ID3_CHAIN_COLUMNS)
    budget = io.read_table(a.budget, paper.ID3_BUDGET_COLUMNS)
    io.write_text(a.out, paper.id23_macros(two, chain, budget))


def cmd_id1_macros(a) -> None:
    from iloco import io, paper

    tables = {path.split("/")[-1].removesuffix(".csv"): io.read_table(path, paper.ID1_COLUMNS) for path in a.tables}
    io.write_text(a.out, paper.id1_macros(tables))


def cmd_sp1_macros(a) -> None:
    from iloco import io, paper

    table = io.read_table(a.table, paper.SP1_COLUMNS)
    io.write_text(a.out, paper.sp1_macros(table, a.bp_within, a.l2_within, a.scale))


def cmd_latex(a) -> None:
    from iloco import paper

    paper.build_pdf(a.tex, a.out, a.workdir)


def cmd_bench_nl(a) -> None:
    from iloco import bench, io

    table = bench.nl_trainer(a.instances, a.n, a.d, a.steps, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def cmd_bench_id(a) -> None:
    from iloco import bench, io

    table = bench.id_identify(a.instances, a.d, a.m, a.n_hessians, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def cmd_bench_sp1(a) -> None:
    from iloco import bench, io

    table = bench.sp1_trainer(a.instances, a.alphas, a.steps, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _provenance(table, config_hash: str):
    from iloco import provenance

    for key, value in provenance.columns(config_hash).items():
        table[key] = value
    return table


def cmd_lr_data(a) -> None:
    from iloco import io, lr

    io.save_npz(a.out, **lr.make_instances(a.task, a.d, a.rank, a.observations, a.instances, a.seed))


def cmd_lr_nuclear(a) -> None:
    from iloco import io, lr

    inst = io.load_npz(a.instances, lr.INSTANCE_KEYS)
    io.save_npz(a.out, **lr.nuclear_norm(inst, a.eps, a.max_iters))


def cmd_lr_train(a) -> None:
    import torch

    from iloco import engine, io, lr

    torch.set_num_threads(a.threads)
    inst = io.load_npz(a.instances, lr.INSTANCE_KEYS)
    stop = engine.StopRule(a.max_steps, a.tol_loss, a.tol_change, a.check_every)
    device = engine.resolve_device(a.device)
    ckpt = _train_checkpoint(a, _RUNTIME)
    dtype = engine.resolve_dtype(a.dtype)
    out = lr.train_arrays(
        inst, a.depth, a.alphas, stop, a.lr, device, dtype, a.method, a.seed, not a.quiet, ckpt, a.beta, a.eps
    )
    io.save_npz(a.out, **out)
    if ckpt:
        ckpt.remove()


def cmd_lr_table(a) -> None:
    from iloco import io, lr

    inst = io.load_npz(a.instances, lr.INSTANCE_KEYS)
    base = io.load_npz(a.baselines, lr.BASELINE_KEYS)
    shards = [io.load_npz(path, lr.TRAIN_KEYS) for path in a.shards]
    io.write_table(a.out, _provenance(lr.tabulate(inst, base, shards), a.config_hash))


def cmd_lr_dynamics(a) -> None:
    import pandas as pd
    import torch

    from iloco import engine, io, lr

    torch.set_num_threads(a.threads)
    cfg = _settings(a, "lr-dynamics")
    device = engine.resolve_device(a.device)
    table = pd.concat(lr.run_dynamics(cfg, a.seed, device), ignore_index=True)
    io.write_table(a.out, _provenance(table, a.config_hash))


def cmd_lr_flow(a) -> None:
    import torch

    from iloco import engine, io, lr

    torch.set_num_threads(a.threads)
    cfg = _settings(a, "lr-flow")
    device = engine.resolve_device(a.device)
    table = lr.run_flow(a.part, cfg, a.seed, device)
    io.write_table(a.out, _provenance(table, a.config_hash))


def cmd_lr_macros(a) -> None:
    from iloco import io, paper

    tables = {
        "completion": io.read_table(a.completion, paper.LR1_COLUMNS),
        "sensing": io.read_table(a.sensing, paper.LR1_COLUMNS),
        "dynamics": io.read_table(a.dynamics),
        "flow_depths": io.read_table(a.flow_depths),
        "gd_vs_flow": io.read_table(a.gd_vs_flow),
    }
    io.write_text(a.out, paper.lr_macros(tables, a.recover_within, a.scale))


def cmd_bench_lr(a) -> None:
    from iloco import bench, io

    table = bench.lr_trainer(a.d, a.depth, a.instances, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="iloco", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("check-config", help="validate config files against the schema")
    s.add_argument("files", nargs="+")
    s.set_defaults(func=cmd_check_config)

    s = sub.add_parser("sp1-data", help="draw sparse-recovery instances (A, x*, y)")
    for name in ("n", "m", "k", "instances", "seed"):
        s.add_argument(f"--{name}", type=int, required=True)
    s.add_argument("--nonzeros", default="gaussian")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp1_data)

    s = sub.add_parser("sp1-baselines", help="basis pursuit (HiGHS LP) and minimum-l2 solutions")
    s.add_argument("--instances", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp1_baselines)

    s = sub.add_parser("sp1-train", help="train diagonal linear networks on all instances x alphas")
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--alphas", type=_floats, required=True)
    s.add_argument("--lr", type=float, default=0.5)
    s.add_argument("--max-steps", type=int, default=100000)
    s.add_argument("--tol-loss", type=float, default=1e-10)
    s.add_argument("--tol-change", type=float, default=0.0)
    s.add_argument("--check-every", type=int, default=100)
    s.add_argument("--dtype", default="float64")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--checkpoint", help="save/resume the training state here (removed when the job ends)")
    s.add_argument("--checkpoint-every-s", type=float, default=300.0, help="seconds between checkpoints")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp1_train)

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

    def id_job(name: str, help: str, section: str, checkpointed: bool = False):
        s = sub.add_parser(name, help=help)
        s.add_argument("--settings", required=True, help=f"the config's {section} section as JSON")
        s.add_argument("--seed", type=int, required=True)
        s.add_argument("--device", default="auto")
        s.add_argument("--threads", type=int, default=1)
        s.add_argument("--quiet", action="store_true", help="no progress bar")
        s.add_argument("--out", required=True)
        if checkpointed:
            s.add_argument("--checkpoint", help="save/resume the training state here (removed when the job ends)")
            s.add_argument("--checkpoint-every-s", type=float, default=300.0, help="seconds between checkpoints")
        return s

    s = id_job("id2-sweep", "identify first-layer and entangled weights of two-layer networks (ID2)", "id2")
    s.add_argument("--config-hash", required=True)
    s.set_defaults(func=cmd_id2_sweep)

    s = id_job("id3-train", "train over-parameterized students on teachers' data by GD (ID3)", "id3", True)
    s.set_defaults(func=cmd_id3_train)

    s = id_job("id3-identify", "identify trained students from queries, compress; Adam baseline (ID3)", "id3")
    s.add_argument("--students", required=True, help="the students file of id3-train")
    s.add_argument("--config-hash", required=True)
    s.set_defaults(func=cmd_id3_identify)

    s = id_job("id3-budget", "identification vs Adam at equal query budgets (ID3)", "id3")
    s.add_argument("--config-hash", required=True)
    s.set_defaults(func=cmd_id3_budget)

    s = id_job("nl1-run", "GD on separable data, logistic and exponential loss, vs the SVM (NL1)", "nl1", True)
    s.add_argument("--config-hash", required=True)
    s.set_defaults(func=cmd_nl1_run)

    s = sub.add_parser("nl1-macros", help="LaTeX macros of the NL1 numbers")
    s.add_argument("--table", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_nl1_macros)

    s = id_job(
        "nl2-teacher", "wide two-layer students from several init scales: rich vs lazy (NL2)", "nl2.teacher", True
    )
    s.add_argument("--config-hash", required=True)
    s.set_defaults(func=cmd_nl2_teacher)

    s = id_job("nl2-digits", "MLPs on digits: spectra and rank-k truncation (NL2)", "nl2.digits", True)
    s.add_argument("--config-hash", required=True)
    s.set_defaults(func=cmd_nl2_digits)

    s = sub.add_parser("nl2-macros", help="LaTeX macros of the NL2 numbers")
    s.add_argument("--teacher", required=True)
    s.add_argument("--digits", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_nl2_macros)

    s = sub.add_parser("id23-macros", help="LaTeX macros of the ID2 and ID3 numbers")
    s.add_argument("--two-layer", required=True)
    s.add_argument("--chain", required=True)
    s.add_argument("--budget", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_id23_macros)

    s = sub.add_parser("id1-macros", help="LaTeX macros of the ID1 section")
    s.add_argument("--tables", nargs="+", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_id1_macros)

    s = sub.add_parser("sp1-table", help="tidy table of the SP1 comparison with provenance")
    s.add_argument("--instances", required=True)
    s.add_argument("--baselines", required=True)
    s.add_argument("--shards", nargs="+", required=True)
    s.add_argument("--potentials", nargs="*", help="Q_alpha solutions (sp1-potential), one file per depth")
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp1_table)

    s = sub.add_parser("sp1-potential", help="min Q_alpha(x) s.t. Ax = y (cvxpy + Clarabel) per instance x alpha")
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--alphas", type=_floats, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp1_potential)

    s = sub.add_parser("sp2-data", help="phase-transition grid of instances (delta = m/n, rho = k/m)")
    for name in ("n", "trials", "seed"):
        s.add_argument(f"--{name}", type=int, required=True)
    s.add_argument("--deltas", type=_floats, required=True)
    s.add_argument("--rhos", type=_floats, required=True)
    s.add_argument("--nonzeros", default="sign")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp2_data)

    s = sub.add_parser("sp2-bp", help="basis pursuit (HiGHS LP) on every grid instance, timed")
    s.add_argument("--instances", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp2_bp)

    s = sub.add_parser("sp2-potential", help="minimizer of Q_alpha on every grid instance (cvxpy + Newton)")
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--alpha", type=float, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp2_potential)

    s = sub.add_parser("sp2-train", help="GD on the diagonal network for one shard of the grid, batched")
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--alpha", type=float, required=True)
    s.add_argument("--shard", type=int, default=0)
    s.add_argument("--shards", type=int, default=1)
    _train_args(s)
    s.set_defaults(func=cmd_sp2_train)

    s = sub.add_parser("sp2-table", help="tidy table of the SP2 grid (BP and GD) with provenance")
    s.add_argument("--instances", required=True)
    s.add_argument("--bp", required=True)
    s.add_argument("--shards", nargs="+", required=True)
    s.add_argument("--potentials", nargs="*", help="Q_alpha minimizers on the grid (sp2-potential), one per depth")
    s.add_argument("--threshold", type=float, required=True, help="success: relative error to x* below this")
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp2_table)

    s = sub.add_parser("sp2-macros", help="LaTeX macros of the SP2 numbers")
    s.add_argument("--table", required=True)
    s.add_argument("--threshold", type=float, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp2_macros)

    s = sub.add_parser("sp1-macros", help="LaTeX macros of the SP1 numbers")
    s.add_argument("--table", required=True)
    s.add_argument("--bp-within", type=float, required=True)
    s.add_argument("--l2-within", type=float, required=True)
    s.add_argument("--scale", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp1_macros)

    s = sub.add_parser("sp3-sgd", help="SGD (mini-batches of rows) against GD at equal alpha and step size")
    s.add_argument("--instances", required=True)
    s.add_argument("--baselines", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--alpha", type=float, required=True)
    s.add_argument("--lrs", type=_floats, required=True)
    s.add_argument("--batches", type=_floats, required=True, help="mini-batch sizes; full-batch GD is always added")
    s.add_argument("--max-steps", type=int, default=100000)
    s.add_argument("--tol-loss", type=float, default=1e-10)
    s.add_argument("--check-every", type=int, default=100)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp3_sgd)

    s = sub.add_parser("sp3-noise", help="GD on noisy data along its trajectory, against the Lasso path")
    s.add_argument("--instances", required=True)
    s.add_argument("--sigma", type=float, required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--alphas", type=_floats, required=True)
    s.add_argument("--lr", type=float, default=0.5)
    s.add_argument("--max-steps", type=int, required=True)
    s.add_argument("--points", type=int, default=30)
    s.add_argument("--lasso-lambdas", type=int, default=100)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp3_noise)

    s = sub.add_parser("sp3-macros", help="LaTeX macros of the SP3 numbers")
    s.add_argument("--sp1", required=True)
    s.add_argument("--sgd", required=True)
    s.add_argument("--noise", required=True)
    s.add_argument("--bp-within", type=float, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp3_macros)

    s = sub.add_parser("claims", help="evaluate every claim of the paper on the result tables (pass/fail table)")
    s.add_argument("--tables", nargs="+", help="NAME=PATH of each result table (see iloco.claims.TABLES)")
    s.add_argument("--settings", help="JSON with the thresholds the claims use")
    s.add_argument("--scale")
    s.add_argument("--on-fail", choices=("error", "mark"), default="error")
    s.add_argument("--config-hash", default="")
    s.add_argument("--out-csv")
    s.add_argument("--out-tex")
    s.add_argument("--figure", help="only the claims about this figure (e.g. nl1_separable); CSV only")
    s.add_argument("--list", action="store_true", help="print the claims as a Markdown table and exit")
    s.set_defaults(func=cmd_claims)

    s = sub.add_parser("constants-macros", help="LaTeX macros of settings, code constants and published values")
    s.add_argument("--settings", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_constants_macros)

    s = sub.add_parser("provenance", help="LaTeX macros of the provenance appendix (build identity, job times)")
    s.add_argument("--tables", nargs="+", required=True)
    s.add_argument("--benchmarks", nargs="+", required=True, help="the benchmark files of this build's jobs")
    s.add_argument("--config-hash", required=True)
    s.add_argument("--scale", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_provenance)

    s = sub.add_parser("latex", help="build a PDF with latexmk, atomically")
    s.add_argument("--tex", required=True)
    s.add_argument("--workdir", required=True, help="folder for latexmk's auxiliary files")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_latex)

    s = sub.add_parser("bench-sp1", help="batched trainer vs per-trial loop, trials per second")
    s.add_argument("--instances", type=int, default=8)
    s.add_argument("--alphas", type=_floats, default=[1e-3, 1e-2, 1e-1, 1.0, 10.0])
    s.add_argument("--steps", type=int, default=2000)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_bench_sp1)

    s = sub.add_parser("bench-sp2", help="GD on the whole SP2 grid, batched vs per instance; time per LP")
    s.add_argument("--n", type=int, default=40)
    s.add_argument("--deltas", type=_floats, default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    s.add_argument("--rhos", type=_floats, default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    s.add_argument("--trials", type=int, default=5)
    s.add_argument("--steps", type=int, default=200)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_bench_sp2)

    s = sub.add_parser("bench-nl", help="NL1 trainer: batched vs per-trial loop, GD steps per second")
    s.add_argument("--instances", type=int, default=32)
    s.add_argument("--n", type=int, default=200)
    s.add_argument("--d", type=int, default=50)
    s.add_argument("--steps", type=int, default=500)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_bench_nl)

    s = sub.add_parser("bench-id", help="shallow-network identification: batched vs per-instance, instances per second")
    s.add_argument("--instances", type=int, default=16)
    s.add_argument("--d", type=int, default=20)
    s.add_argument("--m", type=int, default=20)
    s.add_argument("--n-hessians", type=int, default=25)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_bench_id)
    s = sub.add_parser("lr-data", help="draw low-rank completion or sensing instances (W*, observations)")
    s.add_argument("--task", required=True, help="completion | sensing")
    for name in ("d", "rank", "instances", "seed"):
        s.add_argument(f"--{name}", type=int, required=True)
    s.add_argument("--observations", type=_ints, required=True, help="comma-separated counts m")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_data)

    s = sub.add_parser("lr-nuclear", help="minimum nuclear norm subject to the observations (cvxpy, SCS)")
    s.add_argument("--instances", required=True)
    s.add_argument("--eps", type=float, default=1e-6, help="SCS absolute and relative tolerance")
    s.add_argument("--max-iters", type=int, default=5000)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_nuclear)

    s = sub.add_parser("lr-train", help="train depth-N matrix factorizations on all instances x counts x alphas")
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--alphas", type=_floats, required=True)
    s.add_argument("--method", default="gd", help="gd | rmsprop (Arora et al.'s normalized RMSprop)")
    s.add_argument("--lr", type=float, default=0.5, help="gd: fraction of 1/curvature; rmsprop: learning rate")
    s.add_argument("--beta", type=float, default=0.99, help="rmsprop: decay of the squared-gradient-norm average")
    s.add_argument("--eps", type=float, default=5e-5, help="rmsprop: added to the root of that average")
    s.add_argument("--max-steps", type=int, default=20000)
    s.add_argument("--tol-loss", type=float, default=1e-6)
    s.add_argument("--tol-change", type=float, default=0.0)
    s.add_argument("--check-every", type=int, default=100)
    s.add_argument("--dtype", default="float64")
    s.add_argument("--seed", type=int, required=True, help="root seed of the initial factors")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--checkpoint", help="save/resume the training state here (removed when the job ends)")
    s.add_argument("--checkpoint-every-s", type=float, default=300.0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_train)

    s = sub.add_parser("lr-table", help="tidy LR1 table (every method, paired instances) with provenance")
    s.add_argument("--instances", required=True)
    s.add_argument("--baselines", required=True)
    s.add_argument("--shards", nargs="+", required=True)
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_table)

    s = sub.add_parser("lr-dynamics", help="LR2: singular values and effective rank along training")
    s.add_argument("--settings", required=True, help="the config's lr.dynamics section as JSON")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_dynamics)

    s = sub.add_parser("lr-flow", help="LR3: end-to-end flows of depth N and N = infinity; GD against the flow")
    s.add_argument("--part", required=True, help="depths | gd")
    s.add_argument("--settings", required=True, help="the config's lr.flow section as JSON")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_flow)

    s = sub.add_parser("lr-macros", help="LaTeX macros of the LR section")
    for name in ("completion", "sensing", "dynamics", "flow-depths", "gd-vs-flow"):
        s.add_argument(f"--{name}", required=True)
    s.add_argument("--recover-within", type=float, required=True)
    s.add_argument("--scale", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_macros)

    s = sub.add_parser("bench-lr", help="LR trainer: GFLOP/s against batched matmul, time to loss 1e-6")
    s.add_argument("--d", type=int, default=100)
    s.add_argument("--depth", type=int, default=3)
    s.add_argument("--instances", type=int, default=4)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_bench_lr)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except IlocoError as exc:
        print(f"iloco: error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_sp1_potential(a) -> None:
    from iloco import io, sp

    inst = io.load_npz(a.instances, sp.INSTANCE_KEYS)
    out = sp.solve_potentials(inst, a.depth, a.alphas)
    bad = out["residual"] > 1e-8
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise IlocoError(
            f"{a.instances}: the Q_alpha program (depth {a.depth}, alpha {a.alphas[j]}) on instance {i} left"
            f" a residual {out['residual'][i, j]:.1e} > 1e-8 (cvxpy status {out['status'][i, j]})"
        )
    io.save_npz(a.out, **out)


def _train_checkpoint(a, skip):
    """The job's checkpoint (None without --checkpoint), fingerprinted by its arguments but
    ``skip`` and by the content of its ``--instances`` file, if any."""
    from iloco import engine, io

    if not a.checkpoint:
        return None
    job = {k: v for k, v in vars(a).items() if k not in skip}
    if "instances" in job:
        job["instances"] = io.file_digest(a.instances)
    return engine.Checkpoint(a.checkpoint, io.digest(job), a.checkpoint_every_s)


#: Arguments that do not change a training's result (config_hash: provenance of the table only).
_RUNTIME = ("func", "out", "checkpoint", "checkpoint_every_s", "quiet", "device", "threads", "config_hash")


def cmd_sp2_data(a) -> None:
    from iloco import io, sp

    io.save_npz(a.out, **sp.make_grid_instances(a.n, a.deltas, a.rhos, a.trials, a.seed, a.nonzeros))


def cmd_sp2_bp(a) -> None:
    from iloco import io, sp

    inst = io.load_npz(a.instances, sp.GRID_KEYS)
    out = sp.solve_grid_bp(inst)
    bad = np.flatnonzero(out["bp_status"] != 0)
    if len(bad):
        raise IlocoError(f"{a.instances}: HiGHS found no optimal basis-pursuit solution for grid rows {bad.tolist()}")
    io.save_npz(a.out, **out)


def cmd_sp2_potential(a) -> None:
    from iloco import io, sp

    inst = io.load_npz(a.instances, sp.GRID_KEYS)
    out = sp.solve_grid_potential(inst, a.depth, a.alpha)
    bad = np.flatnonzero(out["residual"] > 1e-8)
    if len(bad):
        raise IlocoError(
            f"{a.instances}: the Q_alpha program (depth {a.depth}, alpha {a.alpha}) left residuals above 1e-8"
            f" on grid rows {bad.tolist()}"
        )
    io.save_npz(a.out, **out)


def cmd_sp2_train(a) -> None:
    import torch

    from iloco import engine, io, sp, spgrid

    torch.set_num_threads(a.threads)
    inst = io.load_npz(a.instances, sp.GRID_KEYS)
    if not 0 <= a.shard < a.shards:
        raise IlocoError(f"sp2-train: --shard {a.shard} is not in 0..{a.shards - 1}")
    rows = spgrid.shard_rows(len(inst["m"]), a.shards, a.shard)
    part = sp.select_rows(inst, rows)
    stop = engine.StopRule(a.max_steps, a.tol_loss, a.tol_change, a.check_every)
    device = engine.resolve_device(a.device)
    ckpt = _train_checkpoint(a, _RUNTIME)
    out = sp.train_arrays(
        part, a.depth, [a.alpha], stop, a.lr, device, engine.resolve_dtype(a.dtype), not a.quiet, ckpt
    )
    io.save_npz(a.out, rows=np.asarray(rows), **out)
    if ckpt:
        ckpt.remove()


def cmd_sp2_table(a) -> None:
    from iloco import io, provenance, sp

    inst = io.load_npz(a.instances, sp.GRID_KEYS)
    bp = io.load_npz(a.bp, sp.GRID_BP_KEYS)
    shards: dict[int, list] = {}
    for path in a.shards:
        sh = io.load_npz(path, sp.TRAIN_KEYS + ("rows",))
        shards.setdefault(int(sh["depth"]), []).append(sh)
    potentials = {}
    for path in a.potentials or []:
        pot = io.load_npz(path, sp.GRID_POTENTIAL_KEYS)
        potentials[int(pot["depth"])] = pot
    table = sp.tabulate_grid(inst, bp, shards, a.threshold, potentials)
    for key, value in provenance.columns(a.config_hash).items():
        table[key] = value
    io.write_table(a.out, table)


def cmd_sp2_macros(a) -> None:
    from iloco import io, paper

    table = io.read_table(a.table, paper.SP2_COLUMNS)
    io.write_text(a.out, paper.sp2_macros(table, a.threshold))


def cmd_sp3_sgd(a) -> None:
    import torch

    from iloco import engine, io, provenance, sp

    torch.set_num_threads(a.threads)
    inst = io.load_npz(a.instances, sp.INSTANCE_KEYS)
    base = io.load_npz(a.baselines, sp.BASELINE_KEYS)
    m = inst["A"].shape[1]
    stop = engine.StopRule(a.max_steps, a.tol_loss, 0.0, a.check_every)
    device = engine.resolve_device(a.device)
    batches = sorted(set([int(b) for b in a.batches] + [m]))
    out = sp.train_sgd(inst, a.depth, a.alpha, a.lrs, batches, stop, a.seed, device, progress=not a.quiet)
    table = sp.tabulate_sgd(inst, base, out)
    for key, value in provenance.columns(a.config_hash).items():
        table[key] = value
    io.write_table(a.out, table)


def cmd_sp3_noise(a) -> None:
    import torch

    from iloco import engine, io, provenance, sp

    torch.set_num_threads(a.threads)
    inst = sp.noisy_instances(io.load_npz(a.instances, sp.INSTANCE_KEYS), a.sigma, a.seed)
    device = engine.resolve_device(a.device)
    steps = sp.record_steps(a.max_steps, a.points)
    traj = sp.noise_trajectory(inst, a.depth, a.alphas, a.lr, steps, device, progress=not a.quiet)
    lasso = sp.lasso_path_errors(inst, a.lasso_lambdas)
    table = sp.tabulate_noise(inst, traj, lasso, a.sigma)
    for key, value in provenance.columns(a.config_hash).items():
        table[key] = value
    io.write_table(a.out, table)


def cmd_sp3_macros(a) -> None:
    from iloco import io, paper

    sp1 = io.read_table(a.sp1, paper.SP1_COLUMNS)
    sgd = io.read_table(a.sgd, paper.SGD_COLUMNS)
    noise = io.read_table(a.noise, paper.NOISE_COLUMNS)
    io.write_text(a.out, paper.sp3_macros(sp1, sgd, noise, a.bp_within))


def _named_tables(items: list[str]) -> dict:
    """NAME=PATH arguments → {name: table}; a malformed pair or a bad table names itself."""
    from iloco import io

    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise IlocoError(f"--tables: {item!r} is not NAME=PATH")
        out[name] = io.read_table(path)
    return out


def cmd_claims(a) -> None:
    from iloco import claims, io, provenance

    if a.list:
        print(claims.markdown(), end="")
        return
    need = ("tables", "settings", "scale", "out_csv") + (() if a.figure else ("out_tex",))
    for flag in need:
        if getattr(a, flag) is None:
            raise IlocoError(f"claims: --{flag.replace('_', '-')} is required")
    claims.of_figure(a.figure)  # an unknown figure is named before any table is read
    result = claims.evaluate(_named_tables(a.tables), _settings(a, "claims", claims.SETTINGS), a.figure)
    failed = claims.failures(result)
    if failed and a.on_fail == "error":
        for r in result[~result["holds"].astype(bool)].itertuples():
            print(
                f"iloco: claim {r.claim} does not hold: measured {r.measured:.4g}, needs {r.op} {r.reference:.4g}"
                f" (tolerance {r.tol:g})",
                file=sys.stderr,
            )
        raise IlocoError(
            f"{len(failed)} of {len(result)} claims do not hold at {a.scale} scale ({', '.join(failed)});"
            " set paper.claims: mark to build the paper with them marked"
        )
    for key, value in provenance.columns(a.config_hash).items():
        result[key] = value
    io.write_table(a.out_csv, result)
    if a.out_tex:
        io.write_text(a.out_tex, claims.latex(result, a.scale))


def cmd_constants_macros(a) -> None:
    from iloco import io, paper

    io.write_text(a.out, paper.constants_macros(_settings(a, "constants-macros", ("lr_tol_loss",))))


def cmd_provenance(a) -> None:
    from iloco import appendix, io

    tex = appendix.provenance_tex(_named_tables(a.tables), appendix.job_times(a.benchmarks), a.config_hash, a.scale)
    io.write_text(a.out, tex)


def _train_args(s) -> None:
    """The GD settings shared by the training subcommands."""
    s.add_argument("--lr", type=float, default=0.5)
    s.add_argument("--max-steps", type=int, default=100000)
    s.add_argument("--tol-loss", type=float, default=1e-10)
    s.add_argument("--tol-change", type=float, default=0.0)
    s.add_argument("--check-every", type=int, default=100)
    s.add_argument("--dtype", default="float64")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.add_argument("--checkpoint", help="save/resume the training state here (removed when the job ends)")
    s.add_argument("--checkpoint-every-s", type=float, default=300.0, help="seconds between checkpoints")
    s.add_argument("--out", required=True)


def cmd_bench_sp2(a) -> None:
    from iloco import bench, io

    table = bench.sp2_grid(a.n, a.deltas, a.rhos, a.trials, a.steps, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))
