# ID2: two hidden layers, first-layer and entangled weights from Hessians near 0. Its figure and
# macros are made with ID3's (id3.smk). Rules call `iloco`.

ID2 = config["id2"]
# The sweep against N_h: every id2 key but the regime map's.
ID2_SWEEP = {key: value for key, value in ID2.items() if key != "regime"}
# The regime map: its own grid, with the method's settings shared with the ID2 sweep.
ID2_REGIME = {
    **{key: ID2[key] for key in ("activation", "h", "scheme", "delta")},
    **ID2["regime"],
}


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
        settings=json.dumps(ID2_SWEEP, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=config_hash(config["seed"], config["device"], ID2_SWEEP),
    shell:
        "python -m iloco id2-sweep --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash}"
        " --out {output} 2> {log}"


rule id2_regime:
    output:
        "results/id2/regime.csv",
    log:
        "results/logs/id2/regime.log",
    benchmark:
        "results/benchmarks/id2/regime.tsv"
    conda:
        ENV
    threads: config["threads"]
    resources:
        gpu=GPU,
    params:
        settings=json.dumps(ID2_REGIME, sort_keys=True),
        seed=config["seed"],
        device=config["device"],
        config_hash=config_hash(config["seed"], config["device"], ID2_REGIME),
    shell:
        "python -m iloco id2-regime --settings '{params.settings}' --seed {params.seed}"
        " --device {params.device} --threads {threads} --config-hash {params.config_hash}"
        " --out {output} 2> {log}"
