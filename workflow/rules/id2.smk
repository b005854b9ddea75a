# ID2: two hidden layers, first-layer and entangled weights from Hessians near 0. Its figure and
# macros are made with ID3's (id3.smk). Rules call `iloco`.

ID2 = config["id2"]


rule id2_sweep:
    output:
        "results/id2/two_layer.csv",
    log:
        "results/logs/id2/two_layer.log",
    benchmark:
        "results/benchmarks/id2/two_layer.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
    params:
        settings=json.dumps(ID2, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=config_hash(config["seed"], config["device"], ID2),
    shell:
        "python -m iloco id2-sweep --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash}"
        " --out {output} 2> {log}"
