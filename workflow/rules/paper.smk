# The paper: LaTeX sources in paper/, numbers from paper/generated/, figures from figures/.
# Claims are checked on the result tables (paper.claims: error stops the build when one fails).

from iloco.core import claims as core_claims
from iloco.core.claims import table_arguments, tables_of

CLAIM_TABLES = family.tables()
CLAIM_FIGURES = core_claims.figures()
PAPER_FIGURES = [f"figures/{stem}.pdf" for stem in family.figures()]
# The config thresholds the claims use, and the hash of them.
CLAIM_SETTINGS = {
    "sp1_bp_within": config["sp1"]["bp_within"],
    "sp1_l2_within": config["sp1"]["l2_within"],
    "lr_recover_within": config["lr"]["recover_within"],
}
CLAIM_HASH = config_hash(*CLAIM_SETTINGS.values())
CLAIM_CODE = code(*FAMILIES)  # the code the claims run: every family's claims module


rule paper_constants:
    output:
        "paper/generated/constants.tex",
    log:
        "results/logs/paper/constants.log",
    conda:
        ENV
    params:
        settings=json.dumps({"lr_tol_loss": config["lr"]["train"]["tol_loss"]}),
        code=code("paper", *FAMILIES),  # re-run when this code changes
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
        # a failed claim stops the build: remove the previous PDF, which no longer matches the results
        " || {{ rm -f paper/main.pdf; echo 'iloco: removed paper/main.pdf (built from earlier results)' >> {log}; exit 1; }}"


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
        # every job it times must have finished: the macros jobs too (else a race drops them)
        macros=family.macros(),
        # Appendix B's paper-scale column: the job times the paper-scale archive recorded
        archived=lambda wc: [
            p for p in ["archive/paper/manifest.json"] if Path(p).exists()
        ],
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
        code=code("paper", *FAMILIES),  # re-run when this code changes
    shell:
        "python -m iloco provenance --tables {params.tables} --benchmarks {params.benchmarks}"
        " --config-hash {params.config_hash} --scale {params.scale} --archive {input.archived}"
        " --out {output} 2> {log}"


rule paper:
    input:
        tex="paper/main.tex",
        sections=sorted(Path("paper/sections").glob("*.tex")),
        bib="paper/references.bib",
        macros=family.macros()
        + [
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
