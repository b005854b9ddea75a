# SP2: phase transitions over (delta = m/n, rho = k/m): basis pursuit (HiGHS LP) and the diagonal
# network at small alpha, against the statistical-dimension curve. The network's diagram is its exact
# gradient-flow limit (min Q_alpha s.t. Ax = y, sp2_potential) on every grid row; GD (sp2_train) runs
# on the validation slice (sp2.validation) and is compared with that limit. Rules call `iloco`.

SP2 = config["sp2"]
SP2_RUNS = {run["depth"]: run["alpha"] for run in SP2["runs"]}
SP2_TRAIN = SP2["train"]
# The config values that determine the SP2 grid of instances.
SP2_GRID = {key: SP2[key] for key in ("n", "deltas", "rhos", "trials", "nonzeros")}
# The config values that determine the SP2 table (the memory limit is a check, not a result).
SP2_HASH = config_hash(
    config["seed"],
    config["device"],
    {key: value for key, value in SP2.items() if key != "memory_limit_gb"},
)


rule sp2_data:
    output:
        "results/sp2/instances.npz",
    log:
        "results/logs/sp2/data.log",
    benchmark:
        "results/benchmarks/sp2/data.tsv"
    conda:
        ENV
    params:
        settings=json.dumps(SP2_GRID, sort_keys=True),
        seed=config["seed"],
    shell:
        "python -m iloco sp2-data --settings '{params.settings}' --seed {params.seed} --out {output} 2> {log}"


rule sp2_bp:
    input:
        "results/sp2/instances.npz",
    output:
        "results/sp2/bp.npz",
    log:
        "results/logs/sp2/bp.log",
    benchmark:
        "results/benchmarks/sp2/bp.tsv"
    conda:
        ENV
    shell:
        "python -m iloco sp2-bp --instances {input} --out {output} 2> {log}"


rule sp2_potential:
    input:
        "results/sp2/instances.npz",
    output:
        "results/sp2/potential/depth{depth}.npz",
    log:
        "results/logs/sp2/potential_depth{depth}.log",
    benchmark:
        "results/benchmarks/sp2/potential_depth{depth}.tsv"
    wildcard_constraints:
        depth=r"\d+",
    conda:
        ENV
    params:
        settings=lambda wc: json.dumps({"alpha": SP2_RUNS[int(wc.depth)]}),
    shell:
        "python -m iloco sp2-potential --instances {input} --depth {wildcards.depth} --settings '{params.settings}'"
        " --out {output} 2> {log}"


rule sp2_train:
    input:
        "results/sp2/instances.npz",
    output:
        "results/sp2/train/depth{depth}_shard{shard}.npz",
    log:
        "results/logs/sp2/train_depth{depth}_shard{shard}.log",
    benchmark:
        "results/benchmarks/sp2/train_depth{depth}_shard{shard}.tsv"
    wildcard_constraints:
        depth=r"\d+",
        shard=r"\d+",
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        checkpoint_every_s=config["checkpoint_every_s"],
    params:
        settings=lambda wc: json.dumps(
            {
                **SP2_TRAIN,
                "alpha": SP2_RUNS[int(wc.depth)],
                "shards": SP2["shards"],
                "validation": SP2["validation"],
            },
            sort_keys=True,
        ),
        device=config["device"],
        checkpoint="results/checkpoints/sp2/depth{depth}_shard{shard}.pt",
    shell:
        "python -m iloco sp2-train --instances {input} --depth {wildcards.depth} --shard {wildcards.shard}"
        " --settings '{params.settings}' --device {params.device} --threads {threads}"
        " --checkpoint {params.checkpoint} --checkpoint-every-s {resources.checkpoint_every_s} --out {output} 2> {log}"


rule sp2_table:
    input:
        instances="results/sp2/instances.npz",
        bp="results/sp2/bp.npz",
        potentials=expand(
            "results/sp2/potential/depth{depth}.npz", depth=sorted(SP2_RUNS)
        ),
        shards=expand(
            "results/sp2/train/depth{depth}_shard{shard}.npz",
            depth=sorted(SP2_RUNS),
            shard=range(SP2["shards"]),
        ),
    output:
        "results/sp2/sp2.csv",
    log:
        "results/logs/sp2/table.log",
    benchmark:
        "results/benchmarks/sp2/table.tsv"
    conda:
        ENV
    params:
        settings=json.dumps({"success_tol": SP2["success_tol"]}),
        config_hash=SP2_HASH,
    shell:
        "python -m iloco sp2-table --instances {input.instances} --bp {input.bp} --shards {input.shards}"
        " --potentials {input.potentials} --settings '{params.settings}' --config-hash {params.config_hash}"
        " --out {output} 2> {log}"


rule sp2_figure:
    input:
        table="results/sp2/sp2.csv",
        notebook="workflow/notebooks/sp2_phase.ipynb",
    output:
        pdf=report(
            "figures/sp2_phase.pdf", caption="../report/sp2_phase.rst", category="SP"
        ),
        notebook="results/notebooks/sp2_phase.ipynb",
    log:
        "results/logs/sp2/figure.log",
    benchmark:
        "results/benchmarks/sp2/figure.tsv"
    conda:
        ENV
    params:
        success_tol=SP2["success_tol"],
        code=code("sp"),  # re-run when this code changes
    shell:
        notebook(
            "-p table {input.table} -p out_pdf {output.pdf} -p success_tol {params.success_tol}"
        )


rule sp2_macros:
    input:
        "results/sp2/sp2.csv",
    output:
        "paper/generated/sp2.tex",
    log:
        "results/logs/sp2/macros.log",
    benchmark:
        "results/benchmarks/sp2/macros.tsv"
    conda:
        ENV
    params:
        settings=json.dumps(
            {"success_tol": SP2["success_tol"], "max_steps": SP2_TRAIN["max_steps"]}
        ),
        code=code("sp"),  # re-run when this code changes
    shell:
        "python -m iloco sp2-macros --table {input} --settings '{params.settings}' --out {output} 2> {log}"
