# NL2: rich vs lazy on teacher data; low-rank compression of MLPs trained on digits.

NL2 = config["nl2"]


rule nl2_run:
    output:
        "results/nl2/{part}.csv",
    log:
        "results/logs/nl2/{part}.log",
    benchmark:
        "results/benchmarks/nl2/{part}.tsv"
    wildcard_constraints:
        part="teacher|digits",
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=lambda wc: 0 if wc.part == "digits" else GPU,
        # a runtime setting, not a result-changing parameter: changing it reruns nothing
        checkpoint_every_s=config["checkpoint_every_s"],
    params:
        settings=lambda wc: json.dumps(NL2[wc.part], sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=lambda wc: config_hash(
            config["seed"], config["device"], NL2[wc.part]
        ),
        # teacher: one file per init scale beside it (teacher.scale0.pt, ...)
        checkpoint="results/checkpoints/nl2/{part}.pt",
    shell:
        "python -m iloco nl2-{wildcards.part} --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash}"
        " --checkpoint {params.checkpoint} --checkpoint-every-s {resources.checkpoint_every_s}"
        " --out {output} 2> {log}"


rule nl2_figure:
    input:
        teacher="results/nl2/teacher.csv",
        digits="results/nl2/digits.csv",
        notebook="workflow/notebooks/nl2_rich_lazy.ipynb",
    output:
        pdf=report(
            "figures/nl2_rich_lazy.pdf",
            caption="../report/nl2_rich_lazy.rst",
            category="NL",
        ),
        notebook="results/notebooks/nl2_rich_lazy.ipynb",
    log:
        "results/logs/nl2/figure.log",
    benchmark:
        "results/benchmarks/nl2/figure.tsv"
    conda:
        ENV
    params:
        code=code("nl"),  # re-run when this code changes
    shell:
        notebook(
            "-p teacher_csv {input.teacher} -p digits_csv {input.digits} -p out_pdf {output.pdf}"
        )


rule nl2_macros:
    input:
        teacher="results/nl2/teacher.csv",
        digits="results/nl2/digits.csv",
    output:
        "paper/generated/nl2.tex",
    log:
        "results/logs/nl2/macros.log",
    benchmark:
        "results/benchmarks/nl2/macros.tsv"
    conda:
        ENV
    params:
        code=code("nl"),  # re-run when this code changes
    shell:
        "python -m iloco nl2-macros --teacher {input.teacher} --digits {input.digits}"
        " --out {output} 2> {log}"
