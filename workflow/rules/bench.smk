# Benchmarks: throughput tables, not part of `all`. Run with ./repro bench.


rule bench:
    input:
        "results/benchmarks/sp1_trainer.csv",
        "results/benchmarks/sp2_grid.csv",
        "results/benchmarks/id_identify.csv",
        "results/benchmarks/nl_trainer.csv",
        "results/benchmarks/lr_trainer.csv",


rule bench_sp1:
    output:
        "results/benchmarks/sp1_trainer.csv",
    log:
        "results/logs/bench/sp1_trainer.log",
    benchmark:
        "results/benchmarks/bench/sp1_trainer.tsv"
    conda:
        ENV
    params:
        device=config["device"],
    shell:
        "python -m iloco bench-sp1 --device {params.device} --out {output} > {log} 2>&1"


rule bench_id:
    output:
        "results/benchmarks/id_identify.csv",
    log:
        "results/logs/bench/id_identify.log",
    benchmark:
        "results/benchmarks/bench/id_identify.tsv"
    conda:
        ENV
    params:
        device=config["device"],
    shell:
        "python -m iloco bench-id --device {params.device} --out {output} > {log} 2>&1"


rule bench_lr:
    output:
        "results/benchmarks/lr_trainer.csv",
    log:
        "results/logs/bench/lr_trainer.log",
    benchmark:
        "results/benchmarks/bench/lr_trainer.tsv"
    conda:
        ENV
    params:
        device=config["device"],
    shell:
        "python -m iloco bench-lr --device {params.device} --out {output} > {log} 2>&1"


rule bench_sp2:
    output:
        "results/benchmarks/sp2_grid.csv",
    log:
        "results/logs/bench/sp2_grid.log",
    benchmark:
        "results/benchmarks/bench/sp2_grid.tsv"
    conda:
        ENV
    params:
        device=config["device"],
        n=config["sp2"]["n"],
        deltas=",".join(str(v) for v in config["sp2"]["deltas"]),
        rhos=",".join(str(v) for v in config["sp2"]["rhos"]),
        trials=config["sp2"]["trials"],
    shell:
        "python -m iloco bench-sp2 --device {params.device} --n {params.n} --deltas {params.deltas}"
        " --rhos {params.rhos} --trials {params.trials} --out {output} > {log} 2>&1"


rule bench_nl:
    output:
        "results/benchmarks/nl_trainer.csv",
    log:
        "results/logs/bench/nl_trainer.log",
    benchmark:
        "results/benchmarks/bench/nl_trainer.tsv"
    conda:
        ENV
    params:
        device=config["device"],
    shell:
        "python -m iloco bench-nl --device {params.device} --out {output} > {log} 2>&1"
