"""The ``iloco`` subcommands of SP (diagonal linear networks and sparsity): each workflow rule of it calls one."""

from __future__ import annotations

import argparse

import numpy as np

# (imports of torch and the SP modules are local: `iloco --help` stays fast)
from iloco.core.cli import (
    add_bench,
    add_job,
    checkpointed,
    job_device,
    job_settings,
    with_provenance,
)
from iloco.core.errors import IlocoError

#: The training settings of the SP1 and SP2 jobs (config sp1.train, sp2.train).
TRAIN_KEYS = ("lr", "max_steps", "tol_loss", "tol_change", "check_every", "dtype")
#: Steps between loss checks of SP3's SGD runs (its stopping tolerance is checked this often).
SGD_CHECK_EVERY = 100


def _stop(s: dict):
    """The stopping rule of a training job from its settings."""
    from iloco.core import engine

    return engine.StopRule(s["max_steps"], s["tol_loss"], s["tol_change"], s["check_every"])


def cmd_sp1_data(a) -> None:
    from iloco.core import io
    from iloco.sp import problems as sp_problems

    s = job_settings(a, "sp1-data", ("n", "m", "k", "instances", "nonzeros"))
    inst = sp_problems.make_instances(s["n"], s["m"], s["k"], s["instances"], a.seed, s["nonzeros"])
    io.save_npz(a.out, **inst)


def cmd_sp1_baselines(a) -> None:
    from iloco.core import io
    from iloco.sp import problems as sp_problems

    inst = io.load_npz(a.instances, sp_problems.INSTANCE_KEYS)
    base = sp_problems.solve_baselines(inst)
    bad = [i for i, s in enumerate(base["bp_status"]) if s != 0]
    if bad:
        raise IlocoError(f"{a.instances}: HiGHS found no optimal basis-pursuit solution for instances {bad}")
    io.save_npz(a.out, **base)


def cmd_sp1_train(a) -> None:

    from iloco.core import engine, io
    from iloco.sp import model as sp_model
    from iloco.sp import problems as sp_problems

    s = job_settings(a, "sp1-train", ("alphas", *TRAIN_KEYS))
    device = job_device(a)
    inst = io.load_npz(a.instances, sp_problems.INSTANCE_KEYS)
    with checkpointed(a) as ckpt:
        out = sp_model.train_arrays(
            inst, a.depth, s["alphas"], _stop(s), s["lr"], device, engine.resolve_dtype(s["dtype"]), not a.quiet, ckpt
        )
        io.save_npz(a.out, **out)


def cmd_sp1_table(a) -> None:
    from iloco.core import io
    from iloco.sp import model as sp_model
    from iloco.sp import problems as sp_problems
    from iloco.sp import regularizer
    from iloco.sp import tables as sp_tables

    inst = io.load_npz(a.instances, sp_problems.INSTANCE_KEYS)
    base = io.load_npz(a.baselines, sp_problems.BASELINE_KEYS)
    shards = {}
    for path in a.shards:
        sh = io.load_npz(path, sp_model.TRAIN_KEYS)
        shards[int(sh["depth"])] = sh
    potentials = {}
    for path in a.potentials or []:
        pot = io.load_npz(path, regularizer.POTENTIAL_KEYS)
        potentials[int(pot["depth"])] = pot
    table = sp_tables.tabulate(inst, base, shards, potentials)
    io.write_table(a.out, with_provenance(table, a.config_hash))


def cmd_sp1_macros(a) -> None:
    from iloco.core import io
    from iloco.sp import macros as sp_macros
    from iloco.sp import tables as sp_tables

    table = io.read_table(a.table, sp_tables.SP1_COLUMNS)
    s = job_settings(a, "sp1-macros", ("bp_within", "l2_within", "scale"))
    io.write_text(a.out, sp_macros.sp1_macros(table, s["bp_within"], s["l2_within"], s["scale"]))


def cmd_bench_sp1(a) -> None:
    from iloco.core import io
    from iloco.sp import bench as sp_bench

    table = sp_bench.sp1_trainer(a.instances, a.alphas, a.steps, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def cmd_sp1_potential(a) -> None:
    from iloco.core import io
    from iloco.sp import problems as sp_problems
    from iloco.sp import regularizer

    alphas = job_settings(a, "sp1-potential", ("alphas",))["alphas"]
    inst = io.load_npz(a.instances, sp_problems.INSTANCE_KEYS)
    out = regularizer.solve_potentials(inst, a.depth, alphas)
    bad = out["residual"] > 1e-8
    if bad.any():
        i, j = map(int, np.argwhere(bad)[0])
        raise IlocoError(
            f"{a.instances}: the Q_alpha program (depth {a.depth}, alpha {alphas[j]}) on instance {i} left"
            f" a residual {out['residual'][i, j]:.1e} > 1e-8 (status {out['status'][i, j]})"
        )
    io.save_npz(a.out, **out)


def cmd_sp2_data(a) -> None:
    from iloco.core import io
    from iloco.sp import problems as sp_problems

    s = job_settings(a, "sp2-data", ("n", "deltas", "rhos", "trials", "nonzeros"))
    grid = sp_problems.make_grid_instances(s["n"], s["deltas"], s["rhos"], s["trials"], a.seed, s["nonzeros"])
    io.save_npz(a.out, **grid)


def cmd_sp2_bp(a) -> None:
    from iloco.core import io
    from iloco.sp import problems as sp_problems

    inst = io.load_npz(a.instances, sp_problems.GRID_KEYS)
    out = sp_problems.solve_grid_bp(inst)
    bad = np.flatnonzero(out["bp_status"] != 0)
    if len(bad):
        raise IlocoError(f"{a.instances}: HiGHS found no optimal basis-pursuit solution for grid rows {bad.tolist()}")
    io.save_npz(a.out, **out)


def cmd_sp2_potential(a) -> None:
    from iloco.core import io
    from iloco.sp import problems as sp_problems
    from iloco.sp import regularizer

    alpha = job_settings(a, "sp2-potential", ("alpha",))["alpha"]
    inst = io.load_npz(a.instances, sp_problems.GRID_KEYS)
    out = regularizer.solve_grid_potential(inst, a.depth, alpha)
    bad = np.flatnonzero(out["residual"] > 1e-8)
    if len(bad):
        raise IlocoError(
            f"{a.instances}: the Q_alpha program (depth {a.depth}, alpha {alpha}) left residuals above 1e-8"
            f" on grid rows {bad.tolist()}"
        )
    io.save_npz(a.out, **out)


def cmd_sp2_train(a) -> None:

    from iloco.core import engine, io
    from iloco.sp import grid as sp_grid
    from iloco.sp import model as sp_model
    from iloco.sp import problems as sp_problems

    s = job_settings(a, "sp2-train", ("alpha", "shards", "validation", *TRAIN_KEYS))
    device = job_device(a)
    inst = io.load_npz(a.instances, sp_problems.GRID_KEYS)
    if not 0 <= a.shard < s["shards"]:
        raise IlocoError(f"sp2-train: --shard {a.shard} is not in 0..{s['shards'] - 1}")
    # GD runs on the validation slice only; its rows keep their grid indices
    slice_rows = sp_grid.validation_rows(inst["delta"], inst["rho"], inst["trial"], s["validation"])
    rows = slice_rows[np.asarray(sp_grid.shard_rows(len(slice_rows), s["shards"], a.shard), dtype=int)]
    if not len(rows):
        raise IlocoError(f"sp2-train: shard {a.shard} of {s['shards']} has no row of the validation slice")
    part = sp_problems.select_rows(inst, rows)
    with checkpointed(a) as ckpt:
        out = sp_model.train_arrays(
            part, a.depth, [s["alpha"]], _stop(s), s["lr"], device, engine.resolve_dtype(s["dtype"]), not a.quiet, ckpt
        )
        io.save_npz(a.out, rows=np.asarray(rows), **out)


def cmd_sp2_table(a) -> None:
    from iloco.core import io
    from iloco.sp import model as sp_model
    from iloco.sp import problems as sp_problems
    from iloco.sp import regularizer
    from iloco.sp import tables as sp_tables

    inst = io.load_npz(a.instances, sp_problems.GRID_KEYS)
    bp = io.load_npz(a.bp, sp_problems.GRID_BP_KEYS)
    shards: dict[int, list] = {}
    for path in a.shards:
        sh = io.load_npz(path, sp_model.TRAIN_KEYS + ("rows",))
        shards.setdefault(int(sh["depth"]), []).append(sh)
    potentials = {}
    for path in a.potentials or []:
        pot = io.load_npz(path, regularizer.GRID_POTENTIAL_KEYS)
        potentials[int(pot["depth"])] = pot
    threshold = job_settings(a, "sp2-table", ("success_tol",))["success_tol"]
    table = sp_tables.tabulate_grid(inst, bp, shards, threshold, potentials)
    io.write_table(a.out, with_provenance(table, a.config_hash))


def cmd_sp2_macros(a) -> None:
    from iloco.core import io
    from iloco.sp import macros as sp_macros
    from iloco.sp import tables as sp_tables

    table = io.read_table(a.table, sp_tables.SP2_COLUMNS)
    s = job_settings(a, "sp2-macros", ("success_tol", "max_steps"))
    io.write_text(a.out, sp_macros.sp2_macros(table, s["success_tol"], s["max_steps"]))


def cmd_sp3_sgd(a) -> None:

    from iloco.core import engine, io
    from iloco.sp import model as sp_model
    from iloco.sp import problems as sp_problems
    from iloco.sp import tables as sp_tables

    s = job_settings(a, "sp3-sgd", ("depth", "alpha", "lrs", "batches", "max_steps", "tol_loss"))
    device = job_device(a)
    inst = io.load_npz(a.instances, sp_problems.INSTANCE_KEYS)
    base = io.load_npz(a.baselines, sp_problems.BASELINE_KEYS)
    m = inst["A"].shape[1]
    stop = engine.StopRule(s["max_steps"], s["tol_loss"], 0.0, SGD_CHECK_EVERY)
    batches = sorted(set([int(b) for b in s["batches"]] + [m]))
    out = sp_model.train_sgd(
        inst, s["depth"], s["alpha"], s["lrs"], batches, stop, a.seed, device, progress=not a.quiet
    )
    table = sp_tables.tabulate_sgd(inst, base, out)
    io.write_table(a.out, with_provenance(table, a.config_hash))


def cmd_sp3_noise(a) -> None:

    from iloco.core import io
    from iloco.sp import model as sp_model
    from iloco.sp import problems as sp_problems
    from iloco.sp import tables as sp_tables

    s = job_settings(a, "sp3-noise", ("sigma", "depth", "alphas", "lr", "max_steps", "points", "lasso_lambdas"))
    device = job_device(a)
    inst = sp_problems.noisy_instances(io.load_npz(a.instances, sp_problems.INSTANCE_KEYS), s["sigma"], a.seed)
    steps = sp_model.record_steps(s["max_steps"], s["points"])
    traj = sp_model.noise_trajectory(inst, s["depth"], s["alphas"], s["lr"], steps, device, progress=not a.quiet)
    lasso = sp_problems.lasso_path_errors(inst, s["lasso_lambdas"])
    table = sp_tables.tabulate_noise(inst, traj, lasso, s["sigma"])
    io.write_table(a.out, with_provenance(table, a.config_hash))


def cmd_sp3_macros(a) -> None:
    from iloco.core import io
    from iloco.sp import macros as sp_macros
    from iloco.sp import tables as sp_tables

    sp1 = io.read_table(a.sp1, sp_tables.SP1_COLUMNS)
    sgd = io.read_table(a.sgd, sp_tables.SGD_COLUMNS)
    noise = io.read_table(a.noise, sp_tables.NOISE_COLUMNS)
    bp_within = job_settings(a, "sp3-macros", ("bp_within",))["bp_within"]
    io.write_text(a.out, sp_macros.sp3_macros(sp1, sgd, noise, bp_within))


def cmd_bench_sp2(a) -> None:
    from iloco.core import io
    from iloco.sp import bench as sp_bench

    table = sp_bench.sp2_grid(a.n, a.deltas, a.rhos, a.trials, a.steps, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def register(sub: argparse._SubParsersAction) -> None:
    """Add the SP subcommands to the ``iloco`` parser: each job takes the config values it
    depends on as ``--settings`` JSON, its wildcards (depth, shard) as flags."""
    for part in (_register_sp1, _register_sp2, _register_sp3, _register_bench):
        part(sub)


def _register_sp1(sub) -> None:

    s = add_job(sub, "sp1-data", "draw sparse-recovery instances (A, x*, y)", "sp1", device=False)
    s.set_defaults(func=cmd_sp1_data)

    s = sub.add_parser("sp1-baselines", help="basis pursuit (HiGHS LP) and minimum-l2 solutions")
    s.add_argument("--instances", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp1_baselines)

    s = add_job(sub, "sp1-train", "train diagonal networks on all instances x alphas", "sp1.train", True, seeded=False)
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.set_defaults(func=cmd_sp1_train)

    s = sub.add_parser("sp1-table", help="tidy table of the SP1 comparison with provenance")
    s.add_argument("--instances", required=True)
    s.add_argument("--baselines", required=True)
    s.add_argument("--shards", nargs="+", required=True)
    s.add_argument("--potentials", nargs="*", help="Q_alpha solutions (sp1-potential), one file per depth")
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp1_table)

    s = add_job(
        sub, "sp1-potential", "min Q_alpha(x) s.t. Ax = y, instances x alphas", "sp1", seeded=False, device=False
    )
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.set_defaults(func=cmd_sp1_potential)

    s = add_job(sub, "sp1-macros", "LaTeX macros of the SP1 numbers", "sp1", seeded=False, device=False)
    s.add_argument("--table", required=True)
    s.set_defaults(func=cmd_sp1_macros)


def _register_sp2(sub) -> None:
    s = add_job(sub, "sp2-data", "phase-transition grid of instances (delta = m/n, rho = k/m)", "sp2", device=False)
    s.set_defaults(func=cmd_sp2_data)

    s = sub.add_parser("sp2-bp", help="basis pursuit (HiGHS LP) on every grid instance, timed")
    s.add_argument("--instances", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_sp2_bp)

    s = add_job(sub, "sp2-potential", "minimizer of Q_alpha on every grid instance", "sp2", seeded=False, device=False)
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.set_defaults(func=cmd_sp2_potential)

    s = add_job(
        sub, "sp2-train", "GD on diagonal networks, one shard of the validation slice", "sp2.train", True, seeded=False
    )
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--shard", type=int, default=0)
    s.set_defaults(func=cmd_sp2_train)

    s = add_job(
        sub, "sp2-table", "tidy table of the SP2 grid with provenance", "sp2", seeded=False, device=False, table=True
    )
    s.add_argument("--instances", required=True)
    s.add_argument("--bp", required=True)
    s.add_argument("--shards", nargs="+", required=True)
    s.add_argument("--potentials", nargs="*", help="Q_alpha minimizers on the grid (sp2-potential), one per depth")
    s.set_defaults(func=cmd_sp2_table)

    s = add_job(sub, "sp2-macros", "LaTeX macros of the SP2 numbers", "sp2", seeded=False, device=False)
    s.add_argument("--table", required=True)
    s.set_defaults(func=cmd_sp2_macros)


def _register_sp3(sub) -> None:
    s = add_job(
        sub, "sp3-sgd", "SGD (mini-batches of rows) against GD at equal alpha and step size", "sp3.sgd", table=True
    )
    s.add_argument("--instances", required=True)
    s.add_argument("--baselines", required=True)
    s.set_defaults(func=cmd_sp3_sgd)

    s = add_job(
        sub, "sp3-noise", "GD on noisy data along its trajectory, against the Lasso path", "sp3.noise", table=True
    )
    s.add_argument("--instances", required=True)
    s.set_defaults(func=cmd_sp3_noise)

    s = add_job(sub, "sp3-macros", "LaTeX macros of the SP3 numbers", "sp1", seeded=False, device=False)
    s.add_argument("--sp1", required=True)
    s.add_argument("--sgd", required=True)
    s.add_argument("--noise", required=True)
    s.set_defaults(func=cmd_sp3_macros)


def _register_bench(sub) -> None:
    help = "batched trainer vs per-trial loop, trials per second"
    add_bench(sub, "bench-sp1", help, cmd_bench_sp1, instances=8, alphas=[1e-3, 1e-2, 1e-1, 1.0, 10.0], steps=2000)

    grid = {"deltas": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], "rhos": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}
    help = "GD on the whole SP2 grid, batched vs per instance; time per LP"
    add_bench(sub, "bench-sp2", help, cmd_bench_sp2, n=40, **grid, trials=5, steps=200)
