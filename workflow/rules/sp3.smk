# SP3: depth ("more is less", from the SP1 shards of depth 2, 3, 4), SGD against GD at equal
# alpha and step size, and early-stopped GD on noisy data against the Lasso path. SP3 reuses
# SP1's instances and baselines, so every comparison is paired. Rules call `iloco`.

SP3 = config["sp3"]
SP3_SGD = SP3["sgd"]
SP3_NOISE = SP3["noise"]


rule sp3_sgd:
    input:
        instances="results/sp1/instances.npz",
        baselines="results/sp1/baselines.npz",
    output:
        "results/sp3/sgd.csv",
    log:
        "results/logs/sp3/sgd.log",
    benchmark:
        "results/benchmarks/sp3/sgd.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
    params:
        settings=json.dumps(SP3_SGD, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=config_hash(config["seed"], config["device"], SP1_INSTANCE, SP3_SGD),
    shell:
        "python -m iloco sp3-sgd --instances {input.instances} --baselines {input.baselines}"
        " --settings '{params.settings}' --seed {params.seed} --device {params.device} --threads {threads}"
        " --config-hash {params.config_hash} --out {output} 2> {log}"


rule sp3_noise:
    input:
        "results/sp1/instances.npz",
    output:
        "results/sp3/noise.csv",
    log:
        "results/logs/sp3/noise.log",
    benchmark:
        "results/benchmarks/sp3/noise.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
    params:
        settings=json.dumps(SP3_NOISE, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=config_hash(
            config["seed"], config["device"], SP1_INSTANCE, SP3_NOISE
        ),
    shell:
        "python -m iloco sp3-noise --instances {input} --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash} --out {output} 2> {log}"


rule sp3_figure:
    input:
        sp1="results/sp1/sp1.csv",
        sgd="results/sp3/sgd.csv",
        noise="results/sp3/noise.csv",
        notebook="workflow/notebooks/sp3_depth_sgd_noise.ipynb",
    output:
        pdf=report(
            "figures/sp3_depth_sgd_noise.pdf",
            caption="../report/sp3_depth_sgd_noise.rst",
            category="SP",
        ),
        notebook="results/notebooks/sp3_depth_sgd_noise.ipynb",
    log:
        "results/logs/sp3/figure.log",
    benchmark:
        "results/benchmarks/sp3/figure.tsv"
    conda:
        ENV
    params:
        bp_within=SP1["bp_within"],
        code=code("sp"),  # re-run when this code changes
    shell:
        notebook(
            "-p sp1_table {input.sp1} -p sgd_table {input.sgd} -p noise_table {input.noise} -p bp_within {params.bp_within} -p out_pdf {output.pdf}"
        )


rule sp3_macros:
    input:
        sp1="results/sp1/sp1.csv",
        sgd="results/sp3/sgd.csv",
        noise="results/sp3/noise.csv",
    output:
        "paper/generated/sp3.tex",
    log:
        "results/logs/sp3/macros.log",
    benchmark:
        "results/benchmarks/sp3/macros.tsv"
    conda:
        ENV
    params:
        settings=json.dumps({"bp_within": SP1["bp_within"]}),
        code=code("sp"),  # re-run when this code changes
    shell:
        "python -m iloco sp3-macros --sp1 {input.sp1} --sgd {input.sgd} --noise {input.noise}"
        " --settings '{params.settings}' --out {output} 2> {log}"
