# SP1: diagonal linear networks, init scale alpha from l1 (basis pursuit) to l2.
# Rules are thin: each calls one `iloco` subcommand (src/iloco/sp/cli.py).

SP1 = config["sp1"]
SP1_ALPHAS = {run["depth"]: run["alphas"] for run in SP1["runs"]}
SP1_MAX_STEPS = {
    run["depth"]: run.get("max_steps", SP1["train"]["max_steps"]) for run in SP1["runs"]
}
SP1_TRAIN = SP1["train"]
# The config values that determine SP1's (and SP3's) instances.
SP1_INSTANCE = {key: SP1[key] for key in ("n", "m", "k", "instances", "nonzeros")}
# The config values that determine the SP1 table (thresholds for the text excluded).
SP1_HASH = config_hash(
    config["seed"],
    config["device"],
    {key: value for key, value in SP1.items() if key not in ("bp_within", "l2_within")},
)


rule sp1_data:
    output:
        "results/sp1/instances.npz",
    log:
        "results/logs/sp1/data.log",
    benchmark:
        "results/benchmarks/sp1/data.tsv"
    conda:
        ENV
    params:
        settings=json.dumps(SP1_INSTANCE, sort_keys=True),
        seed=config["seed"],
    shell:
        "python -m iloco sp1-data --settings '{params.settings}' --seed {params.seed} --out {output} 2> {log}"


rule sp1_baselines:
    input:
        "results/sp1/instances.npz",
    output:
        "results/sp1/baselines.npz",
    log:
        "results/logs/sp1/baselines.log",
    benchmark:
        "results/benchmarks/sp1/baselines.tsv"
    conda:
        ENV
    shell:
        "python -m iloco sp1-baselines --instances {input} --out {output} 2> {log}"


rule sp1_train:
    input:
        "results/sp1/instances.npz",
    output:
        "results/sp1/train/depth{depth}.npz",
    log:
        "results/logs/sp1/train_depth{depth}.log",
    benchmark:
        "results/benchmarks/sp1/train_depth{depth}.tsv"
    wildcard_constraints:
        depth=r"\d+",
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        # a runtime setting, not a result-changing parameter: changing it reruns nothing
        checkpoint_every_s=config["checkpoint_every_s"],
    params:
        settings=lambda wc: json.dumps(
            {
                **SP1_TRAIN,
                "alphas": SP1_ALPHAS[int(wc.depth)],
                "max_steps": SP1_MAX_STEPS[int(wc.depth)],
            },
            sort_keys=True,
        ),
        device=config["device"],
        checkpoint="results/checkpoints/sp1/depth{depth}.pt",
    shell:
        "python -m iloco sp1-train --instances {input} --depth {wildcards.depth} --settings '{params.settings}'"
        " --device {params.device} --threads {threads} --checkpoint {params.checkpoint}"
        " --checkpoint-every-s {resources.checkpoint_every_s} --out {output} 2> {log}"


rule sp1_potential:
    input:
        "results/sp1/instances.npz",
    output:
        "results/sp1/potential/depth{depth}.npz",
    log:
        "results/logs/sp1/potential_depth{depth}.log",
    benchmark:
        "results/benchmarks/sp1/potential_depth{depth}.tsv"
    wildcard_constraints:
        depth=r"\d+",
    conda:
        ENV
    params:
        settings=lambda wc: json.dumps({"alphas": SP1_ALPHAS[int(wc.depth)]}),
    shell:
        "python -m iloco sp1-potential --instances {input} --depth {wildcards.depth} --settings '{params.settings}'"
        " --out {output} 2> {log}"


rule sp1_table:
    input:
        instances="results/sp1/instances.npz",
        baselines="results/sp1/baselines.npz",
        shards=expand("results/sp1/train/depth{depth}.npz", depth=sorted(SP1_ALPHAS)),
        potentials=expand(
            "results/sp1/potential/depth{depth}.npz", depth=sorted(SP1_ALPHAS)
        ),
    output:
        "results/sp1/sp1.csv",
    log:
        "results/logs/sp1/table.log",
    benchmark:
        "results/benchmarks/sp1/table.tsv"
    conda:
        ENV
    params:
        config_hash=SP1_HASH,
    shell:
        "python -m iloco sp1-table --instances {input.instances} --baselines {input.baselines}"
        " --shards {input.shards} --potentials {input.potentials} --config-hash {params.config_hash} --out {output} 2> {log}"


rule sp1_figure:
    input:
        table="results/sp1/sp1.csv",
        notebook="workflow/notebooks/sp1_alpha.ipynb",
    output:
        pdf=report(
            "figures/sp1_alpha.pdf", caption="../report/sp1_alpha.rst", category="SP"
        ),
        notebook="results/notebooks/sp1_alpha.ipynb",
    log:
        "results/logs/sp1/figure.log",
    benchmark:
        "results/benchmarks/sp1/figure.tsv"
    conda:
        ENV
    params:
        bp_within=SP1["bp_within"],
        code=code("sp"),  # re-run when this code changes
    shell:
        notebook(
            "-p table {input.table} -p out_pdf {output.pdf} -p bp_within {params.bp_within}"
        )


rule sp1_macros:
    input:
        "results/sp1/sp1.csv",
    output:
        "paper/generated/sp1.tex",
    log:
        "results/logs/sp1/macros.log",
    benchmark:
        "results/benchmarks/sp1/macros.tsv"
    conda:
        ENV
    params:
        settings=json.dumps(
            {
                "bp_within": SP1["bp_within"],
                "l2_within": SP1["l2_within"],
                "scale": config["paper"]["scale"],
            },
            sort_keys=True,
        ),
        code=code("sp"),  # re-run when this code changes
    shell:
        "python -m iloco sp1-macros --table {input} --settings '{params.settings}' --out {output} 2> {log}"
