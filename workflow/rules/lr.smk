# LR: deep linear networks (deep matrix factorizations) and low rank.
# LR1 completion and sensing (GD and normalized RMSprop per depth vs the nuclear norm), LR2 dynamics, LR3 end-to-end
# flows up to infinite depth. Rules are thin: each calls one `iloco` subcommand.

LR = config["lr"]
LR_TASKS = ["completion", "sensing"]
LR_TRAIN = LR["train"]
LR_METHODS = LR["methods"]
# per method: the learning rate, the step budget and the optimizer's own flags (gd has none)
LR_OPT = {
    "gd": {"lr": LR_TRAIN["lr"], "max_steps": LR_TRAIN["max_steps"], "flags": ""},
    "rmsprop": {
        "lr": LR["rmsprop"]["lr"],
        "max_steps": LR["rmsprop"]["max_steps"],
        "flags": f" --beta {LR['rmsprop']['beta']} --eps {LR['rmsprop']['eps']}",
    },
}
LR_SEED = {
    "completion": config["seed"],
    "sensing": config["seed"] + 1,
}  # lr.SEED_OFFSET


# The config values that determine each LR table.
LR_HASH = {
    **{
        task: config_hash(
            config["seed"],
            config["device"],
            LR[task],
            LR["depths"],
            LR["alphas"],
            LR["train"],
            LR_METHODS,
            LR["rmsprop"],
            LR["nuclear"],
        )
        for task in LR_TASKS
    },
    "dynamics": config_hash(config["seed"], config["device"], LR["dynamics"]),
    "flow": config_hash(config["seed"], config["device"], LR["flow"]),
}


rule lr_data:
    output:
        "results/lr/{task}/instances.npz",
    log:
        "results/logs/lr/{task}_data.log",
    benchmark:
        "results/benchmarks/lr/{task}_data.tsv"
    wildcard_constraints:
        task="|".join(LR_TASKS),
    conda:
        ENV
    params:
        d=lambda wc: LR[wc.task]["d"],
        rank=lambda wc: LR[wc.task]["rank"],
        observations=lambda wc: ",".join(str(m) for m in LR[wc.task]["observations"]),
        instances=lambda wc: LR[wc.task]["instances"],
        seed=lambda wc: LR_SEED[wc.task],
    shell:
        "python -m iloco lr-data --task {wildcards.task} --d {params.d} --rank {params.rank}"
        " --observations {params.observations} --instances {params.instances} --seed {params.seed}"
        " --out {output} 2> {log}"


rule lr_nuclear:
    input:
        "results/lr/{task}/instances.npz",
    output:
        "results/lr/{task}/nuclear.npz",
    log:
        "results/logs/lr/{task}_nuclear.log",
    benchmark:
        "results/benchmarks/lr/{task}_nuclear.tsv"
    wildcard_constraints:
        task="|".join(LR_TASKS),
    conda:
        ENV
    params:
        eps=LR["nuclear"]["eps"],
        max_iters=LR["nuclear"]["max_iters"],
    shell:
        "python -m iloco lr-nuclear --instances {input} --eps {params.eps} --max-iters {params.max_iters}"
        " --out {output} 2> {log}"


rule lr_train:
    input:
        "results/lr/{task}/instances.npz",
    output:
        "results/lr/{task}/train/{method}/depth{depth}.npz",
    log:
        "results/logs/lr/{task}_train_{method}_depth{depth}.log",
    benchmark:
        "results/benchmarks/lr/{task}_train_{method}_depth{depth}.tsv"
    wildcard_constraints:
        task="|".join(LR_TASKS),
        method="|".join(LR_OPT),
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
        alphas=",".join(str(a) for a in LR["alphas"]),
        lr=lambda wc: LR_OPT[wc.method]["lr"],
        max_steps=lambda wc: LR_OPT[wc.method]["max_steps"],
        flags=lambda wc: LR_OPT[wc.method]["flags"],
        tol_loss=LR_TRAIN["tol_loss"],
        tol_change=LR_TRAIN["tol_change"],
        check_every=LR_TRAIN["check_every"],
        dtype=LR_TRAIN["dtype"],
        seed=lambda wc: LR_SEED[wc.task],
        device=config["device"],
        checkpoint="results/checkpoints/lr/{task}_{method}_depth{depth}.pt",
    shell:
        "python -m iloco lr-train --instances {input} --depth {wildcards.depth} --alphas {params.alphas}"
        " --method {wildcards.method}{params.flags}"
        " --lr {params.lr} --max-steps {params.max_steps} --tol-loss {params.tol_loss}"
        " --tol-change {params.tol_change} --check-every {params.check_every} --dtype {params.dtype}"
        " --seed {params.seed} --device {params.device} --threads {threads} --checkpoint {params.checkpoint}"
        " --checkpoint-every-s {resources.checkpoint_every_s} --out {output} 2> {log}"


rule lr_table:
    input:
        instances="results/lr/{task}/instances.npz",
        baselines="results/lr/{task}/nuclear.npz",
        shards=expand(
            "results/lr/{{task}}/train/{method}/depth{depth}.npz",
            method=LR_METHODS,
            depth=LR["depths"],
        ),
    output:
        "results/lr/{task}.csv",
    log:
        "results/logs/lr/{task}_table.log",
    benchmark:
        "results/benchmarks/lr/{task}_table.tsv"
    wildcard_constraints:
        task="|".join(LR_TASKS),
    conda:
        ENV
    params:
        config_hash=lambda wc: LR_HASH[wc.task],
    shell:
        "python -m iloco lr-table --instances {input.instances} --baselines {input.baselines}"
        " --shards {input.shards} --config-hash {params.config_hash} --out {output} 2> {log}"


rule lr_dynamics:
    output:
        "results/lr/dynamics.csv",
    log:
        "results/logs/lr/dynamics.log",
    benchmark:
        "results/benchmarks/lr/dynamics.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=0 if config["device"] == "cpu" else 1,
    params:
        settings=json.dumps(LR["dynamics"], sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=LR_HASH["dynamics"],
    shell:
        "python -m iloco lr-dynamics --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash}"
        " --out {output} 2> {log}"


rule lr_flow:
    output:
        "results/lr/flow_{part}.csv",
    log:
        "results/logs/lr/flow_{part}.log",
    benchmark:
        "results/benchmarks/lr/flow_{part}.tsv"
    wildcard_constraints:
        part="depths|gd",
    conda:
        ENV
    threads: config["threads"]
    params:
        settings=json.dumps(LR["flow"], sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=LR_HASH["flow"],
    shell:
        "python -m iloco lr-flow --part {wildcards.part} --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash}"
        " --out {output} 2> {log}"


LR_TABLES = {
    "completion": "results/lr/completion.csv",
    "sensing": "results/lr/sensing.csv",
    "dynamics": "results/lr/dynamics.csv",
    "flow_depths": "results/lr/flow_depths.csv",
    "gd_vs_flow": "results/lr/flow_gd.csv",
}
LR_FIGURES = ["lr1_completion", "lr2_dynamics", "lr3_flow"]


rule lr_figure:
    input:
        tables=list(LR_TABLES.values()),
        notebook="workflow/notebooks/{figure}.ipynb",
    output:
        pdf=report(
            "figures/{figure}.pdf", caption="../report/lr_figure.rst", category="LR"
        ),
        notebook="results/notebooks/{figure}.ipynb",
    log:
        "results/logs/lr/figure_{figure}.log",
    benchmark:
        "results/benchmarks/lr/figure_{figure}.tsv"
    wildcard_constraints:
        figure="|".join(LR_FIGURES),
    conda:
        ENV
    params:
        recover_within=LR["recover_within"],
        code=code_digest("plotting", "published"),  # re-run when this code changes
    shell:
        "papermill {input.notebook} {output.notebook}.part.ipynb -k python3 --log-output"
        " -p results_dir results/lr -p out_pdf {output.pdf} -p recover_within {params.recover_within} 2> {log}"
        " && mv {output.notebook}.part.ipynb {output.notebook}"


rule lr_macros:
    input:
        **LR_TABLES,
    output:
        "paper/generated/lr.tex",
    log:
        "results/logs/lr/macros.log",
    benchmark:
        "results/benchmarks/lr/macros.tsv"
    conda:
        ENV
    params:
        recover_within=LR["recover_within"],
        scale=config["paper"]["scale"],
        code=code_digest("paper"),  # re-run when this code changes
    shell:
        "python -m iloco lr-macros --completion {input.completion} --sensing {input.sensing}"
        " --dynamics {input.dynamics} --flow-depths {input.flow_depths} --gd-vs-flow {input.gd_vs_flow}"
        " --recover-within {params.recover_within} --scale {params.scale} --out {output} 2> {log}"
