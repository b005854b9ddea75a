# Benchmarks: throughput tables, not part of `all`. Run with ./repro bench.


rule bench:
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
