# SP1: diagonal linear networks, init scale alpha from l1 (basis pursuit) to l2.
# Rules are thin: each calls one `iloco` subcommand (src/iloco/cli.py).

SP1 = config["sp1"]
SP1_ALPHAS = {run["depth"]: run["alphas"] for run in SP1["runs"]}
SP1_MAX_STEPS = {
    run["depth"]: run.get("max_steps", SP1["train"]["max_steps"]) for run in SP1["runs"]
}
SP1_TRAIN = SP1["train"]
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
        n=SP1["n"],
        m=SP1["m"],
        k=SP1["k"],
        instances=SP1["instances"],
        nonzeros=SP1["nonzeros"],
        seed=config["seed"],
    shell:
        "python -m iloco sp1-data --n {params.n} --m {params.m} --k {params.k} --instances {params.instances}"
        " --nonzeros {params.nonzeros} --seed {params.seed} --out {output} 2> {log}"


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
        # wants a GPU unless the config says cpu (profiles/local-gpu and profiles/slurm use it)
        gpu=0 if config["device"] == "cpu" else 1,
        # a runtime setting, not a result-changing parameter: changing it reruns nothing
        checkpoint_every_s=config["checkpoint_every_s"],
    params:
        alphas=lambda wc: ",".join(str(a) for a in SP1_ALPHAS[int(wc.depth)]),
        lr=SP1_TRAIN["lr"],
        max_steps=lambda wc: SP1_MAX_STEPS[int(wc.depth)],
        tol_loss=SP1_TRAIN["tol_loss"],
        tol_change=SP1_TRAIN["tol_change"],
        check_every=SP1_TRAIN["check_every"],
        dtype=SP1_TRAIN["dtype"],
        device=config["device"],
        checkpoint="results/checkpoints/sp1/depth{depth}.pt",
    shell:
        "python -m iloco sp1-train --instances {input} --depth {wildcards.depth} --alphas {params.alphas}"
        " --lr {params.lr} --max-steps {params.max_steps} --tol-loss {params.tol_loss}"
        " --tol-change {params.tol_change} --check-every {params.check_every} --dtype {params.dtype}"
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
        alphas=lambda wc: ",".join(str(a) for a in SP1_ALPHAS[int(wc.depth)]),
    shell:
        "python -m iloco sp1-potential --instances {input} --depth {wildcards.depth} --alphas {params.alphas}"
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
        code=code_digest("plotting", "published"),  # re-run when this code changes
    shell:
        "papermill {input.notebook} {output.notebook}.part.ipynb -k python3 --log-output"
        " -p table {input.table} -p out_pdf {output.pdf} -p bp_within {params.bp_within} 2> {log}"
        " && mv {output.notebook}.part.ipynb {output.notebook}"


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
        bp_within=SP1["bp_within"],
        l2_within=SP1["l2_within"],
        scale=config["paper"]["scale"],
        code=code_digest("paper"),  # re-run when this code changes
    shell:
        "python -m iloco sp1-macros --table {input} --bp-within {params.bp_within} --l2-within {params.l2_within}"
        " --scale {params.scale} --out {output} 2> {log}"
