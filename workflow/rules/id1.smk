# ID1: identify shallow networks from queries alone (Hessians by finite differences -> span ->
# rank-one elements -> biases and output weights). One job per sweep; rules call `iloco`.

ID1 = config["id1"]
from iloco.ident import spec as ident_spec

ID1_SWEEPS = list(ident_spec.SWEEPS)
ID1_COMMON = {key: value for key, value in ID1.items() if key not in ID1_SWEEPS}


rule id1_sweep:
    output:
        "results/id1/{sweep}.csv",
    log:
        "results/logs/id1/{sweep}.log",
    benchmark:
        "results/benchmarks/id1/{sweep}.tsv"
    wildcard_constraints:
        sweep="|".join(ID1_SWEEPS),
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
    params:
        # the shared settings and this sweep's section: a sweep reruns only when they change
        settings=lambda wc: json.dumps(
            {**ID1_COMMON, wc.sweep: ID1[wc.sweep]}, sort_keys=True
        ),
        seed=config["seed"],
        device=config["device"],
        config_hash=lambda wc: config_hash(
            config["seed"], config["device"], ID1_COMMON, ID1[wc.sweep]
        ),
    shell:
        "python -m iloco id1-sweep --sweep {wildcards.sweep} --settings '{params.settings}'"
        " --seed {params.seed} --device {params.device} --threads {threads}"
        " --config-hash {params.config_hash} --out {output} 2> {log}"


rule id1_figure:
    input:
        tables=expand("results/id1/{sweep}.csv", sweep=ID1_SWEEPS),
        notebook="workflow/notebooks/id1_identification.ipynb",
    output:
        pdf=report(
            "figures/id1_identification.pdf",
            caption="../report/id1_identification.rst",
            category="ID",
        ),
        notebook="results/notebooks/id1_identification.ipynb",
    log:
        "results/logs/id1/figure.log",
    benchmark:
        "results/benchmarks/id1/figure.tsv"
    conda:
        ENV
    params:
        code=code("ident"),  # re-run when this code changes
    shell:
        notebook("-p results_dir results/id1 -p out_pdf {output.pdf}")


rule id1_macros:
    input:
        expand("results/id1/{sweep}.csv", sweep=ID1_SWEEPS),
    output:
        "paper/generated/id1.tex",
    log:
        "results/logs/id1/macros.log",
    benchmark:
        "results/benchmarks/id1/macros.tsv"
    conda:
        ENV
    params:
        code=code("ident"),  # re-run when this code changes
    shell:
        "python -m iloco id1-macros --tables {input} --out {output} 2> {log}"
