# LR: deep linear networks (deep matrix factorizations) and low rank.
# LR1 completion and sensing (GD and normalized RMSprop per depth vs the nuclear norm), LR2 dynamics, LR3 end-to-end
# flows up to infinite depth. Rules are thin: each calls one `iloco` subcommand.

from iloco.lr import spec as lr_spec

LR = config["lr"]
LR_TASKS = list(lr_spec.TASKS)
LR_TRAIN = LR["train"]
LR_METHODS = LR["methods"]
# per method: the settings of its training jobs (rmsprop adds its decay and epsilon)
_LR_COMMON = {
    key: LR_TRAIN[key] for key in ("tol_loss", "tol_change", "check_every", "dtype")
}
LR_OPT = {
    "gd": {
        **_LR_COMMON,
        "alphas": LR["alphas"],
        "lr": LR_TRAIN["lr"],
        "max_steps": LR_TRAIN["max_steps"],
    },
    "rmsprop": {**_LR_COMMON, "alphas": LR["alphas"], **LR["rmsprop"]},
}
LR_SEED = {task: config["seed"] + lr_spec.SEED_OFFSET[task] for task in LR_TASKS}


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
        settings=lambda wc: json.dumps(LR[wc.task], sort_keys=True),
        seed=lambda wc: LR_SEED[wc.task],
    shell:
        "python -m iloco lr-data --task {wildcards.task} --settings '{params.settings}' --seed {params.seed}"
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
        settings=json.dumps(LR["nuclear"], sort_keys=True),
    shell:
        "python -m iloco lr-nuclear --instances {input} --settings '{params.settings}' --out {output} 2> {log}"


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
        gpu=GPU,
        # a runtime setting, not a result-changing parameter: changing it reruns nothing
        checkpoint_every_s=config["checkpoint_every_s"],
    params:
        settings=lambda wc: json.dumps(LR_OPT[wc.method], sort_keys=True),
        seed=lambda wc: LR_SEED[wc.task],
        device=config["device"],
        checkpoint="results/checkpoints/lr/{task}_{method}_depth{depth}.pt",
    shell:
        "python -m iloco lr-train --instances {input} --depth {wildcards.depth} --method {wildcards.method}"
        " --settings '{params.settings}' --seed {params.seed} --device {params.device} --threads {threads}"
        " --checkpoint {params.checkpoint} --checkpoint-every-s {resources.checkpoint_every_s} --out {output} 2> {log}"


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
        gpu=GPU,
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
LR_FIGURES = list(lr_spec.FIGURES)
# The tables each LR figure draws (its notebook reads these only): LR2 and LR3 can be drawn
# from their own tables, e.g. from the paper-scale archive, without LR1's.
LR_FIGURE_TABLES = {
    "lr1_completion": ("completion", "sensing"),
    "lr2_dynamics": ("dynamics",),
    "lr3_flow": ("flow_depths", "gd_vs_flow"),
}


rule lr_figure:
    input:
        tables=lambda wc: [LR_TABLES[t] for t in LR_FIGURE_TABLES[wc.figure]],
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
        code=code("lr"),  # re-run when this code changes
    shell:
        notebook(
            "-p results_dir results/lr -p out_pdf {output.pdf} -p recover_within {params.recover_within}"
        )


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
        settings=json.dumps(
            {
                "recover_within": LR["recover_within"],
                "scale": config["paper"]["scale"],
            },
            sort_keys=True,
        ),
        code=code("lr"),  # re-run when this code changes
    shell:
        "python -m iloco lr-macros --completion {input.completion} --sensing {input.sensing}"
        " --dynamics {input.dynamics} --flow-depths {input.flow_depths} --gd-vs-flow {input.gd_vs_flow}"
        " --settings '{params.settings}' --out {output} 2> {log}"
