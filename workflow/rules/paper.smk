# The paper: LaTeX sources in paper/, numbers from paper/generated/, figures from figures/.
# Claims are checked on the result tables (paper.claims: error stops the build when one fails).

from iloco.claims import FIGURES as CLAIM_FIGURES, TABLES as CLAIM_TABLES
from iloco.claims import table_arguments, tables_of

PAPER_FIGURES = [
    "figures/sp1_alpha.pdf",
    "figures/sp2_phase.pdf",
    "figures/sp3_depth_sgd_noise.pdf",
    "figures/id1_identification.pdf",
    "figures/id2_two_layer.pdf",
    "figures/id3_chain.pdf",
    "figures/nl1_separable.pdf",
    "figures/nl2_rich_lazy.pdf",
] + expand("figures/{figure}.pdf", figure=LR_FIGURES)
# The config thresholds the claims use, and the hash of them.
CLAIM_SETTINGS = {
    "sp1_bp_within": config["sp1"]["bp_within"],
    "sp1_l2_within": config["sp1"]["l2_within"],
    "lr_recover_within": config["lr"]["recover_within"],
}
CLAIM_HASH = config_hash(*CLAIM_SETTINGS.values())
CLAIM_CODE = code_digest("claims", "paper", "nl", "sp")  # the code the claims run


rule paper_constants:
    output:
        "paper/generated/constants.tex",
    log:
        "results/logs/paper/constants.log",
    conda:
        ENV
    params:
        settings=json.dumps({"lr_tol_loss": config["lr"]["train"]["tol_loss"]}),
        code=code_digest("paper", "published", "sp", "plotting"),  # re-run when this code changes
    shell:
        "python -m iloco constants-macros --settings '{params.settings}' --out {output} 2> {log}"


rule claims:
    input:
        **CLAIM_TABLES,
    output:
        csv=report(
            "results/claims/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
        ),
        tex="paper/generated/claims.tex",
    log:
        "results/logs/paper/claims.log",
    benchmark:
        "results/benchmarks/paper/claims.tsv"
    conda:
        ENV
    params:
        tables=lambda wc, input: table_arguments(input),
        settings=json.dumps(CLAIM_SETTINGS),
        scale=config["paper"]["scale"],
        on_fail=config["paper"]["claims"],
        config_hash=CLAIM_HASH,
        code=CLAIM_CODE,  # re-run when this code changes
    shell:
        "python -m iloco claims --tables {params.tables} --settings '{params.settings}'"
        " --scale {params.scale} --on-fail {params.on_fail} --config-hash {params.config_hash}"
        " --out-csv {output.csv} --out-tex {output.tex} 2> {log}"


# The claims about one figure, on its tables alone: check a figure (at any scale) without
# building the rest, e.g. ./repro paper results/claims/nl1_separable.csv
rule claims_figure:
    input:
        unpack(lambda wc: tables_of(wc.figure)),
    output:
        "results/claims/{figure}.csv",
    log:
        "results/logs/claims/{figure}.log",
    wildcard_constraints:
        figure="|".join(CLAIM_FIGURES),
    conda:
        ENV
    params:
        tables=lambda wc, input: table_arguments(input, input.keys()),
        settings=json.dumps(CLAIM_SETTINGS),
        scale=config["paper"]["scale"],
        on_fail=config["paper"]["claims"],
        config_hash=CLAIM_HASH,
        code=CLAIM_CODE,  # re-run when this code changes
    shell:
        "python -m iloco claims --figure {wildcards.figure} --tables {params.tables}"
        " --settings '{params.settings}' --scale {params.scale} --on-fail {params.on_fail}"
        " --config-hash {params.config_hash} --out-csv {output} 2> {log}"


rule provenance:
    input:
        **CLAIM_TABLES,
        figures=PAPER_FIGURES,
        claims="results/claims/claims.csv",
    output:
        "paper/generated/provenance.tex",
    log:
        "results/logs/paper/provenance.log",
    conda:
        ENV
    params:
        tables=lambda wc, input: table_arguments(input),
        benchmarks=lambda wc: build_benchmarks(),
        scale=config["paper"]["scale"],
        config_hash=config_hash(config),
        code=code_digest("appendix", "paper"),  # re-run when this code changes
    shell:
        "python -m iloco provenance --tables {params.tables} --benchmarks {params.benchmarks}"
        " --config-hash {params.config_hash} --scale {params.scale} --out {output} 2> {log}"


rule paper:
    input:
        tex="paper/main.tex",
        sections=sorted(Path("paper/sections").glob("*.tex")),
        bib="paper/references.bib",
        macros=[
            "paper/generated/sp1.tex",
            "paper/generated/sp2.tex",
            "paper/generated/sp3.tex",
            "paper/generated/id1.tex",
            "paper/generated/id23.tex",
            "paper/generated/nl1.tex",
            "paper/generated/nl2.tex",
            "paper/generated/lr.tex",
            "paper/generated/constants.tex",
            "paper/generated/claims.tex",
            "paper/generated/provenance.tex",
        ],
        figures=PAPER_FIGURES,
    output:
        report("paper/main.pdf", caption="../report/paper.rst", category="Paper"),
    log:
        "results/logs/paper/latexmk.log",
    benchmark:
        "results/benchmarks/paper/latexmk.tsv"
    conda:
        ENV
    shell:
        "python -m iloco latex --tex {input.tex} --workdir results/paper/latex --out {output} 2> {log}"
