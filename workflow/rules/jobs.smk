# The jobs of this config's build, for the provenance appendix (included after the family rules).
# The wildcard values of this config's jobs, per rule with wildcards.
JOB_WILDCARDS = {
    "sp1_train": {"depth": sorted(SP1_ALPHAS)},
    "sp1_potential": {"depth": sorted(SP1_ALPHAS)},
    "sp2_potential": {"depth": sorted(SP2_RUNS)},
    "sp2_train": {"depth": sorted(SP2_RUNS), "shard": range(SP2["shards"])},
    "id1_sweep": {"sweep": ID1_SWEEPS},
    "nl2_run": {"part": ["teacher", "digits"]},
    "lr_data": {"task": LR_TASKS},
    "lr_nuclear": {"task": LR_TASKS},
    "lr_train": {"task": LR_TASKS, "method": LR_METHODS, "depth": LR["depths"]},
    "lr_table": {"task": LR_TASKS},
    "lr_flow": {"part": ["depths", "gd"]},
    "lr_figure": {"figure": LR_FIGURES},
}


def build_benchmarks():
    """The benchmark file of every job before the PDF in this config's build (not the files
    other configs left in results/benchmarks); a rule with wildcards missing from
    JOB_WILDCARDS is an error here, not a silently uncounted job."""
    skip = ("paper", "all")
    files = []
    for job in workflow.rules:
        name = job.name
        if job.benchmark and name not in skip and not name.startswith("bench"):
            pattern = str(getattr(rules, name).benchmark)  # constraints stripped
            files += expand(pattern, **JOB_WILDCARDS.get(name, {}))
    return files
