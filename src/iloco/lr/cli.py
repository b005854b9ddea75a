"""The ``iloco`` subcommands of LR (deep linear networks and low rank): each workflow rule of it calls one."""

from __future__ import annotations

import argparse

from iloco.core.cli import (
    add_bench,
    add_job,
    checkpointed,
    job_device,
    job_settings,
    with_provenance,
    write_with_provenance,
)


def cmd_lr_data(a) -> None:
    from iloco.core import io
    from iloco.lr import problems as lr_problems

    s = job_settings(a, "lr-data", ("d", "rank", "observations", "instances"))
    inst = lr_problems.make_instances(a.task, s["d"], s["rank"], s["observations"], s["instances"], a.seed)
    io.save_npz(a.out, **inst)


def cmd_lr_nuclear(a) -> None:
    from iloco.core import io
    from iloco.lr import problems as lr_problems

    s = job_settings(a, "lr-nuclear", ("eps", "max_iters"))
    inst = io.load_npz(a.instances, lr_problems.INSTANCE_KEYS)
    io.save_npz(a.out, **lr_problems.nuclear_norm(inst, s["eps"], s["max_iters"]))


def cmd_lr_train(a) -> None:

    from iloco.core import engine, io
    from iloco.lr import model as lr_model
    from iloco.lr import problems as lr_problems

    keys = ("alphas", "lr", "max_steps", "tol_loss", "tol_change", "check_every", "dtype")
    s = job_settings(a, "lr-train", keys + (("beta", "eps") if a.method == "rmsprop" else ()))
    device = job_device(a)
    inst = lr_problems.first_instances(io.load_npz(a.instances, lr_problems.INSTANCE_KEYS), s.get("instances"))
    stop = engine.StopRule(s["max_steps"], s["tol_loss"], s["tol_change"], s["check_every"])
    with checkpointed(a) as ckpt:
        dtype = engine.resolve_dtype(s["dtype"])
        rms = {k: s[k] for k in ("beta", "eps") if a.method == "rmsprop"}  # gd records the defaults, unused
        out = lr_model.train_arrays(
            inst, a.depth, s["alphas"], stop, s["lr"], device, dtype, a.method, a.seed, not a.quiet, ckpt, **rms
        )
        io.save_npz(a.out, **out)


def cmd_lr_table(a) -> None:
    from iloco.core import io
    from iloco.lr import model as lr_model
    from iloco.lr import problems as lr_problems
    from iloco.lr import tables as lr_tables

    inst = io.load_npz(a.instances, lr_problems.INSTANCE_KEYS)
    base = io.load_npz(a.baselines, lr_problems.BASELINE_KEYS)
    shards = [io.load_npz(path, lr_model.TRAIN_KEYS) for path in a.shards]
    io.write_table(a.out, with_provenance(lr_tables.tabulate(inst, base, shards), a.config_hash))


def cmd_lr_dynamics(a) -> None:
    import pandas as pd

    from iloco.lr import dynamics

    cfg = job_settings(a, "lr-dynamics")
    device = job_device(a)
    write_with_provenance(a, pd.concat(dynamics.run_dynamics(cfg, a.seed, device), ignore_index=True))


def cmd_lr_flow(a) -> None:
    from iloco.lr import flow

    cfg = job_settings(a, "lr-flow")
    write_with_provenance(a, flow.run_flow(a.part, cfg, a.seed, job_device(a)))


def cmd_lr_macros(a) -> None:
    from iloco.core import io
    from iloco.lr import macros as lr_macros
    from iloco.lr import tables as lr_tables

    tables = {
        "completion": io.read_table(a.completion, lr_tables.LR1_COLUMNS),
        "sensing": io.read_table(a.sensing, lr_tables.LR1_COLUMNS),
        "dynamics": io.read_table(a.dynamics),
        "flow_depths": io.read_table(a.flow_depths),
        "gd_vs_flow": io.read_table(a.gd_vs_flow),
    }
    s = job_settings(a, "lr-macros", ("recover_within", "scale"))
    io.write_text(a.out, lr_macros.lr_macros(tables, s["recover_within"], s["scale"]))


def cmd_bench_lr(a) -> None:
    from iloco.core import io
    from iloco.lr import bench as lr_bench

    table = lr_bench.lr_trainer(a.d, a.depth, a.instances, a.device, a.threads)
    io.write_table(a.out, table)
    print(table.to_string(index=False))


def register(sub: argparse._SubParsersAction) -> None:
    """Add the subcommands to the ``iloco`` parser."""
    s = add_job(sub, "lr-data", "draw low-rank completion or sensing instances", "lr.<task>", device=False)
    s.add_argument("--task", required=True, help="completion | sensing")
    s.set_defaults(func=cmd_lr_data)

    s = add_job(
        sub,
        "lr-nuclear",
        "minimum nuclear norm subject to the observations (SCS)",
        "lr.nuclear",
        seeded=False,
        device=False,
    )
    s.add_argument("--instances", required=True)
    s.set_defaults(func=cmd_lr_nuclear)

    s = add_job(sub, "lr-train", "train depth-N factorizations on all instances x counts x alphas", "lr.train", True)
    s.add_argument("--instances", required=True)
    s.add_argument("--depth", type=int, required=True)
    s.add_argument("--method", required=True, help="gd | rmsprop (Arora et al.'s normalized RMSprop)")
    s.set_defaults(func=cmd_lr_train)

    s = sub.add_parser("lr-table", help="tidy LR1 table (every method, paired instances) with provenance")
    s.add_argument("--instances", required=True)
    s.add_argument("--baselines", required=True)
    s.add_argument("--shards", nargs="+", required=True)
    s.add_argument("--config-hash", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_table)

    s = add_job(sub, "lr-dynamics", "LR2: singular values and effective rank along training", "lr.dynamics", table=True)
    s.set_defaults(func=cmd_lr_dynamics)

    s = add_job(
        sub, "lr-flow", "LR3: end-to-end flows of depth N and N = infinity; GD against the flow", "lr.flow", table=True
    )
    s.add_argument("--part", required=True, help="depths | gd")
    s.set_defaults(func=cmd_lr_flow)

    s = sub.add_parser("lr-macros", help="LaTeX macros of the LR section")
    for name in ("completion", "sensing", "dynamics", "flow-depths", "gd-vs-flow"):
        s.add_argument(f"--{name}", required=True)
    s.add_argument("--settings", required=True, help="recover_within and the paper's scale, as JSON")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_lr_macros)

    help = "LR trainer: GFLOP/s against batched matmul, time to loss 1e-6"
    add_bench(sub, "bench-lr", help, cmd_bench_lr, d=100, depth=3, instances=4)
