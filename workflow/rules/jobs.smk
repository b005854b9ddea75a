# The jobs of this config's build, for the provenance appendix (included after the family rules).
# The wildcard values of this config's jobs, per rule with wildcards.
JOB_WILDCARDS = family.wildcards(config)  # declared by each family's spec


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


def build_outputs():
    """Every output of this config's build (all jobs before the PDF but claims_figure and the
    benchmarks). The default target asks for them all, so that a deleted figure, table or
    intermediate file is rebuilt: Snakemake looks for missing files only upstream of jobs that
    must run, and an up-to-date paper/main.pdf would hide them ("Nothing to be done").
    """
    skip = ("all", "claims_figure")
    files = []
    for job in workflow.rules:
        if job.name not in skip and not job.name.startswith("bench"):
            for pattern in getattr(rules, job.name).output:
                files += expand(str(pattern), **JOB_WILDCARDS.get(job.name, {}))
    return files
