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
    Outputs under a results/<dir>/ whose tables came from the archive (restored_dirs) are not
    asked for: those tables are up to date, so their instances and trained models are not needed.
    """
    skip = ("all", "claims_figure", "archive", "archive_table")
    done = restored_dirs()
    files = []
    for job in workflow.rules:
        if job.name not in skip and not job.name.startswith("bench"):
            for pattern in getattr(rules, job.name).output:
                files += expand(str(pattern), **JOB_WILDCARDS.get(job.name, {}))
    return [
        f
        for f in files
        if not (f.startswith("results/") and Path(f).parts[1] in done)
        or f in archive_tables()
    ]


# The result archive of this config's scale (archive/<scale>/, iloco.archive): the archived
# tables that match this config and code are put into results/ here, at parse time (the DAG
# must see them; on a cluster only the main process does it), so the build uses them and
# re-computes only the rest; a stale one is named on one line.
from iloco.archive import store as archive_store

SCALE = config["paper"]["scale"]
try:
    RESTORED = archive_store.restore(config) if workflow.is_main_process else set()
except IlocoError as err:
    sys.exit(f"iloco: error: {err}")


def archive_tables():
    """Every result table a figure, macros or claims job reads (results/<dir>/<name>.csv):
    what ./repro archive keeps. Call it after those rules are defined."""
    found = set()
    for job in workflow.rules:
        if job.name == "claims" or job.name.endswith(
            ("_figure", "_figures", "_macros")
        ):
            for item in job.input:
                if (
                    isinstance(item, str)
                    and item.startswith("results/")
                    and item.endswith(".csv")
                ):
                    found.add(item)
    return sorted(found)


def restored_dirs():
    """results/<dir>/ whose every archived table was restored: their intermediate files
    (instances, trained models) are not asked for by `all`, since nothing has to re-run.
    """
    tables = archive_tables()
    dirs = {Path(t).parts[1] for t in RESTORED}
    return {
        d for d in dirs if all(t in RESTORED for t in tables if Path(t).parts[1] == d)
    }


def archive_benchmarks(wc):
    """The benchmark files of the jobs that computed results/<dir>/<name>.csv (not figures or
    macros): those of the figure that declares its job (family spec), so that a directory
    shared by several figures (lr/: LR1, LR2, LR3) gives each table its own figure's jobs;
    the whole directory where no figure declares it."""
    prefix = f"results/benchmarks/{wc.dir}/"
    mine = [
        pats
        for pats in family.figures().values()
        if any(
            fnmatch.fnmatch(f"{wc.dir}/{wc.name}{tail}", p)
            for p in pats
            for tail in ("", "_")
        )
    ]
    return [
        b
        for b in build_benchmarks()
        if b.startswith(prefix)
        and not Path(b).stem.startswith(("figure", "macros"))
        and (
            not mine
            or any(
                fnmatch.fnmatch(f"{wc.dir}/{Path(b).stem}", p)
                for pats in mine
                for p in pats
            )
        )
    ]
