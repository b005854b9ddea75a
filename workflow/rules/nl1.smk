# NL1: gradient descent on separable data, logistic and exponential loss, against the SVM.

NL1 = config["nl1"]


rule nl1_run:
    output:
        "results/nl1/separable.csv",
    log:
        "results/logs/nl1/run.log",
    benchmark:
        "results/benchmarks/nl1/run.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
        # a runtime setting, not a result-changing parameter: changing it reruns nothing
        checkpoint_every_s=config["checkpoint_every_s"],
    params:
        settings=json.dumps(NL1, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=config_hash(config["seed"], config["device"], NL1),
        # one file per training of the job beside it: run.linear-soudry.pt, run.relu2.pt, ...
        checkpoint="results/checkpoints/nl1/run.pt",
    shell:
        "python -m iloco nl1-run --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash}"
        " --checkpoint {params.checkpoint} --checkpoint-every-s {resources.checkpoint_every_s}"
        " --out {output} 2> {log}"


rule nl1_figure:
    input:
        table="results/nl1/separable.csv",
        notebook="workflow/notebooks/nl1_separable.ipynb",
    output:
        pdf=report(
            "figures/nl1_separable.pdf",
            caption="../report/nl1_separable.rst",
            category="NL",
        ),
        notebook="results/notebooks/nl1_separable.ipynb",
    log:
        "results/logs/nl1/figure.log",
    benchmark:
        "results/benchmarks/nl1/figure.tsv"
    conda:
        ENV
    params:
        code=code("nl"),  # re-run when this code changes
    shell:
        notebook("-p table_csv {input.table} -p out_pdf {output.pdf}")


rule nl1_macros:
    input:
        "results/nl1/separable.csv",
    output:
        "paper/generated/nl1.tex",
    log:
        "results/logs/nl1/macros.log",
    benchmark:
        "results/benchmarks/nl1/macros.tsv"
    conda:
        ENV
    params:
        code=code("nl"),  # re-run when this code changes
    shell:
        "python -m iloco nl1-macros --table {input} --out {output} 2> {log}"
