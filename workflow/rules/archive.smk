# The result archive of this config's scale (archive/<scale>/, committed for the paper scale):
# the tables every figure, macro and claim reads, gzipped, with a manifest (iloco.archive).
# Which archived tables this build uses, and the functions of these rules: jobs.smk.
# Included after every rule that reads tables.


rule archive_table:
    input:
        "results/{dir}/{name}.csv",
    output:
        gz="archive/{scale}/{dir}/{name}.csv.gz",
        sidecar="archive/{scale}/{dir}/{name}.json",
    log:
        "results/logs/archive/{scale}_{dir}_{name}.log",
    wildcard_constraints:
        scale=SCALE,
        dir="|".join(sorted({Path(t).parts[1] for t in archive_tables()})),
        name=r"[a-z0-9_]+",
    conda:
        ENV
    params:
        config=json.dumps(config, sort_keys=True),
        benchmarks=archive_benchmarks,
    shell:
        "python -m iloco archive-table --table {input} --out-dir archive/{wildcards.scale}"
        " --config '{params.config}' --benchmarks {params.benchmarks} 2> {log}"


# ./repro archive: every table of this config into archive/<scale>/ (then the manifest).
rule archive:
    input:
        [
            f"archive/{SCALE}/{Path(*Path(t).parts[1:]).with_suffix('.json')}"
            for t in archive_tables()
        ],
