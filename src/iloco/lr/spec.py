"""LR's declarations (torch-free; the Snakefile reads them when it parses): figures, tables,
macro files, jobs' wildcards, seeds, the cross-key config checks, and the published values."""

from __future__ import annotations

from iloco.core.errors import IlocoError
from iloco.core.family import Family
from iloco.core.memory import F64

TASKS = ("completion", "sensing")
METHODS = ("gd", "rmsprop")
FIGURES = ("lr1_completion", "lr2_dynamics", "lr3_flow")
#: Offsets of each LR job's seed from the config's seed, so the jobs draw independent instances.
SEED_OFFSET = {"completion": 0, "sensing": 1, "dynamics": 2, "flow": 3}

#: Arora, Cohen, Hu, Luo (2019), matrix completion of a 100 x 100 rank-5 matrix: at
#: ``low_obs`` observations depth >= 3 recovers where depth 2 and the nuclear norm do not;
#: at ``high_obs`` all recover.
LR1_ARORA = {"d": 100, "rank": 5, "low_obs": 2000, "high_obs": 5000}


#: Arora et al.'s optimizer (their code, GroupRMSprop): learning rate, decay and the epsilon
#: they add after the square root, on their loss (1/m) sum r^2 (twice ours).
LR1_ARORA_RMSPROP = {"lr": 1e-3, "beta": 0.99, "eps": 1e-4}


def _wildcards(config: dict) -> dict[str, dict[str, list]]:
    lr = config["lr"]
    return {
        "lr_data": {"task": list(TASKS)},
        "lr_nuclear": {"task": list(TASKS)},
        "lr_train": {"task": list(TASKS), "method": lr["methods"], "depth": lr["depths"]},
        "lr_table": {"task": list(TASKS)},
        "lr_flow": {"part": ["depths", "gd"]},
        "lr_figure": {"figure": list(FIGURES)},
    }


def _check(config: dict) -> None:
    """Cross-key rules of the LR section: rank < d, observations <= d², distinct; kmax <= d."""
    lr = config["lr"]
    problems = [(f"lr.{t}", lr[t]) for t in TASKS]
    problems += [("lr.dynamics", {**lr["dynamics"], "observations": [lr["dynamics"]["observations"]]})]
    problems += [("lr.flow", lr["flow"])]
    for key, p in problems:
        d = p["d"]
        if p["rank"] >= d:
            raise IlocoError(f"config: {key}.rank: {p['rank']} must be < {key}.d = {d} (a low-rank ground truth)")
        for m in p["observations"]:
            if m > d * d:
                raise IlocoError(f"config: {key}.observations: {m} exceeds d^2 = {d * d} entries for d = {d}")
        if len(set(p["observations"])) != len(p["observations"]):
            raise IlocoError(f"config: {key}.observations: {p['observations']} must be distinct")
    rms = lr["rmsprop"]
    for t in TASKS:
        if rms.get("instances", 0) > lr[t]["instances"]:
            raise IlocoError(
                f"config: lr.rmsprop.instances: {rms['instances']} exceeds lr.{t}.instances = {lr[t]['instances']}"
            )
    extra = sorted(set(rms.get("alphas", [])) - set(lr["alphas"]))
    if extra:
        raise IlocoError(
            f"config: lr.rmsprop.alphas: {extra} not in lr.alphas = {lr['alphas']} (RMSprop pairs with GD)"
        )
    if lr["dynamics"]["kmax"] > lr["dynamics"]["d"]:
        raise IlocoError(f"config: lr.dynamics.kmax: {lr['dynamics']['kmax']} exceeds lr.dynamics.d")


def _memory(config: dict) -> list[tuple[str, int, str]]:
    """LR1's batched factors (and sensing operators) per task, LR2's factors."""
    lr = config["lr"]
    depth = max(lr["depths"])
    out = []
    for task in TASKS:
        p = lr[task]
        d2 = p["d"] ** 2
        sensing = max(p["observations"]) * d2 if task == "sensing" else 0
        cells = len(p["observations"]) * len(lr["alphas"]) * (depth + 2) * d2
        out.append(
            (f"lr.{task}", F64 * p["instances"] * (sensing + cells), "instances x (measurements + factors) x d^2")
        )
    dyn = lr["dynamics"]
    out.append(
        ("lr.dynamics", F64 * ((max(dyn["depths"]) + 2) * dyn["d"] ** 2 + dyn["observations"] * dyn["d"]), "factors")
    )
    return out


FAMILY = Family(
    name="lr",
    figures={
        "lr1_completion": ("lr/completion_*", "lr/sensing_*", "lr/figure_lr1_completion"),
        "lr2_dynamics": ("lr/dynamics", "lr/figure_lr2_dynamics"),
        "lr3_flow": ("lr/flow_*", "lr/figure_lr3_flow"),
    },
    tables={
        "lr_completion": "results/lr/completion.csv",
        "lr_sensing": "results/lr/sensing.csv",
        "lr_dynamics": "results/lr/dynamics.csv",
        "lr_flow_depths": "results/lr/flow_depths.csv",
        "lr_flow_gd": "results/lr/flow_gd.csv",
    },
    macros=("lr",),
    wildcards=_wildcards,
    check=_check,
    memory=_memory,
)
