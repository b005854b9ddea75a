# ID3, the chain: train students, identify them from queries, compress; against Adam on the same
# query budget. The figure and macros job of ID2 and ID3 together (id23) is here too. Rules call `iloco`.
# Each job gets only the config values it depends on, so it reruns only when they change.

ID3 = config["id3"]
ID3_TRAIN = {
    key: ID3[key]
    for key in (
        "activation",
        "d",
        "teachers",
        "teacher_width",
        "nonortho",
        "theta_scale",
        "student_width",
        "n_train",
        "init_scales",
        "train",
    )
}
ID3_IDENTIFY = {
    key: ID3[key] for key in ("activation", "identify", "baseline", "delta", "n_test")
}
ID3_BUDGET = {
    key: ID3[key]
    for key in ("activation", "nonortho", "theta_scale", "n_test", "baseline", "budget")
}
ID3_BUDGET["identify"] = {key: ID3["identify"][key] for key in ("h", "scheme")}


rule id3_train:
    output:
        "results/id3/students.npz",
    log:
        "results/logs/id3/train.log",
    benchmark:
        "results/benchmarks/id3/train.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        # a runtime setting, not a result-changing parameter: changing it reruns nothing
        checkpoint_every_s=config["checkpoint_every_s"],
    params:
        settings=json.dumps(ID3_TRAIN, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        checkpoint="results/checkpoints/id3/students.pt",
    shell:
        "python -m iloco id3-train --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --checkpoint {params.checkpoint}"
        " --checkpoint-every-s {resources.checkpoint_every_s} --out {output} 2> {log}"


rule id3_identify:
    input:
        "results/id3/students.npz",
    output:
        "results/id3/chain.csv",
    log:
        "results/logs/id3/identify.log",
    benchmark:
        "results/benchmarks/id3/identify.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
    params:
        settings=json.dumps(ID3_IDENTIFY, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=config_hash(
            config["seed"], config["device"], ID3_TRAIN, ID3_IDENTIFY
        ),
    shell:
        "python -m iloco id3-identify --settings '{params.settings}' --students {input}"
        " --seed {params.seed} --device {params.device} --threads {threads}"
        " --config-hash {params.config_hash} --out {output} 2> {log}"


rule id3_budget:
    output:
        "results/id3/budget.csv",
    log:
        "results/logs/id3/budget.log",
    benchmark:
        "results/benchmarks/id3/budget.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
    params:
        settings=json.dumps(ID3_BUDGET, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=config_hash(config["seed"], config["device"], ID3_BUDGET),
    shell:
        "python -m iloco id3-budget --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash}"
        " --out {output} 2> {log}"


rule id23_figures:
    input:
        two_layer="results/id2/two_layer.csv",
        regime="results/id2/regime.csv",
        chain="results/id3/chain.csv",
        budget="results/id3/budget.csv",
        notebook="workflow/notebooks/id23_two_layer_chain.ipynb",
    output:
        two_layer=report(
            "figures/id2_two_layer.pdf",
            caption="../report/id2_two_layer.rst",
            category="ID",
        ),
        chain=report(
            "figures/id3_chain.pdf",
            caption="../report/id3_chain.rst",
            category="ID",
        ),
        notebook="results/notebooks/id23_two_layer_chain.ipynb",
    log:
        "results/logs/id23/figures.log",
    benchmark:
        "results/benchmarks/id23/figures.tsv"
    conda:
        ENV
    params:
        code=code("ident"),  # re-run when this code changes
    shell:
        notebook(
            "-p two_layer_csv {input.two_layer} -p regime_csv {input.regime} -p chain_csv {input.chain} -p budget_csv {input.budget} -p two_layer_pdf {output.two_layer} -p chain_pdf {output.chain}"
        )


rule id23_macros:
    input:
        two_layer="results/id2/two_layer.csv",
        regime="results/id2/regime.csv",
        chain="results/id3/chain.csv",
        budget="results/id3/budget.csv",
    output:
        "paper/generated/id23.tex",
    log:
        "results/logs/id23/macros.log",
    benchmark:
        "results/benchmarks/id23/macros.tsv"
    conda:
        ENV
    params:
        code=code("ident"),  # re-run when this code changes
    shell:
        "python -m iloco id23-macros --two-layer {input.two_layer} --regime {input.regime} --chain {input.chain}"
        " --budget {input.budget} --out {output} 2> {log}"
