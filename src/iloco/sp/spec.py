"""SP's declarations (torch-free; the Snakefile reads them when it parses): figures, tables,
macro files, jobs' wildcards, and the cross-key config checks."""

from __future__ import annotations

from iloco.core.errors import IlocoError
from iloco.core.family import Family
from iloco.core.memory import F64
from iloco.sp.grid import memory_bytes, validation_size


def _wildcards(config: dict) -> dict[str, dict[str, list]]:
    sp1 = sorted(run["depth"] for run in config["sp1"]["runs"])
    sp2 = sorted(run["depth"] for run in config["sp2"]["runs"])
    return {
        "sp1_train": {"depth": sp1},
        "sp1_potential": {"depth": sp1},
        "sp2_potential": {"depth": sp2},
        "sp2_train": {"depth": sp2, "shard": list(range(config["sp2"]["shards"]))},
    }


def _check(config: dict) -> None:
    """Underdetermined SP1 problems, distinct depths, an SP2 shard within memory, SP2's validation
    slice inside its grid with a row for every shard, SGD batches."""
    sp1 = config["sp1"]
    if sp1["m"] >= sp1["n"]:
        raise IlocoError(f"config: sp1.m: {sp1['m']} must be < sp1.n = {sp1['n']} (underdetermined system)")
    if sp1["k"] > sp1["m"]:
        raise IlocoError(f"config: sp1.k: {sp1['k']} must be <= sp1.m = {sp1['m']}")
    for section in ("sp1", "sp2"):
        depths = [r["depth"] for r in config[section]["runs"]]
        if len(set(depths)) != len(depths):
            raise IlocoError(f"config: {section}.runs: depths {depths} must be distinct")
    sp2 = config["sp2"]
    val = sp2["validation"]
    for key in ("deltas", "rhos"):
        outside = [v for v in val[key] if not any(abs(v - g) < 1e-12 for g in sp2[key])]
        if outside:
            raise IlocoError(
                f"config: sp2.validation.{key}: {outside[0]} is not one of sp2.{key} (the slice is part of the grid)"
            )
    if val["trials"] > sp2["trials"]:
        raise IlocoError(f"config: sp2.validation.trials: {val['trials']} must be <= sp2.trials = {sp2['trials']}")
    rows = validation_size(sp2["deltas"], sp2["rhos"], sp2["trials"], val)
    if rows < sp2["shards"]:
        raise IlocoError(
            f"config: sp2.shards: {sp2['shards']} training jobs per depth for {rows} rows of sp2.validation;"
            " every shard needs a row"
        )
    need = memory_bytes(sp2["n"], sp2["deltas"], sp2["rhos"], sp2["trials"], sp2["shards"])
    if need > sp2["memory_limit_gb"] * 2**30:
        raise IlocoError(
            f"config: sp2: a training shard needs {need / 2**30:.3g} GiB (rows x largest m x n, float64),"
            f" above sp2.memory_limit_gb = {sp2['memory_limit_gb']}; raise sp2.shards or lower sp2.trials or sp2.n"
        )
    for b in config["sp3"]["sgd"]["batches"]:
        if b >= sp1["m"]:
            raise IlocoError(f"config: sp3.sgd.batches: {b} must be < sp1.m = {sp1['m']} (full-batch GD is always run)")


def _memory(config: dict) -> list[tuple[str, int, str]]:
    """SP1's batched training, SP3's SGD runs and noise path (SP2: its own limit, in ``_check``)."""
    sp1, sp3 = config["sp1"], config["sp3"]
    n, m, count = sp1["n"], sp1["m"], sp1["instances"]
    cells = max(len(r["alphas"]) for r in sp1["runs"])
    runs = len(sp3["sgd"]["lrs"]) * (len(sp3["sgd"]["batches"]) + 1)
    return [
        ("sp1", F64 * count * (m * n + 8 * cells * n), "instances x (m x n matrix A + 8 vectors of n per alpha)"),
        ("sp3.sgd", F64 * count * (m * n + 8 * runs * n), "sp1 instances x (A + 8 vectors of n per run)"),
        (
            "sp3.noise",
            F64 * count * (m * n + sp3["noise"]["lasso_lambdas"] * n),
            "sp1 instances x (A + the Lasso path)",
        ),
    ]


_SP1_JOBS = ("sp1/data", "sp1/baselines", "sp1/train_*", "sp1/potential_*", "sp1/table")

FAMILY = Family(
    name="sp",
    figures={
        "sp1_alpha": ("sp1/*",),
        "sp2_phase": ("sp2/*",),
        "sp3_depth_sgd_noise": (*_SP1_JOBS, "sp3/*"),
    },
    tables={
        "sp1": "results/sp1/sp1.csv",
        "sp2": "results/sp2/sp2.csv",
        "sp3_sgd": "results/sp3/sgd.csv",
        "sp3_noise": "results/sp3/noise.csv",
    },
    macros=("sp1", "sp2", "sp3"),
    wildcards=_wildcards,
    check=_check,
    memory=_memory,
)
