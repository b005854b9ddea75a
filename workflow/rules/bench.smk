# Benchmarks: throughput tables, not part of `all`. Run with ./repro bench.


rule bench:
    output:
        sp1="results/benchmarks/sp1_trainer.csv",
        sp2="results/benchmarks/sp2_grid.csv",
    log:
        "results/logs/bench/bench.log",
    benchmark:
        "results/benchmarks/bench/bench.tsv"
    conda:
        ENV
    params:
        device=config["device"],
        sp2_n=config["sp2"]["n"],
        sp2_deltas=",".join(str(v) for v in config["sp2"]["deltas"]),
        sp2_rhos=",".join(str(v) for v in config["sp2"]["rhos"]),
        sp2_trials=config["sp2"]["trials"],
    shell:
        "(python -m iloco bench-sp1 --device {params.device} --out {output.sp1}"
        " && python -m iloco bench-sp2 --device {params.device} --n {params.sp2_n} --deltas {params.sp2_deltas}"
        " --rhos {params.sp2_rhos} --trials {params.sp2_trials} --out {output.sp2}) > {log} 2>&1"
