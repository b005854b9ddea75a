# The paper: LaTeX sources in paper/, numbers from paper/generated/, figures from figures/.


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
        ],
        figures=[
            "figures/sp1_alpha.pdf",
            "figures/sp2_phase.pdf",
            "figures/sp3_depth_sgd_noise.pdf",
            "figures/id1_identification.pdf",
            "figures/id2_two_layer.pdf",
            "figures/id3_chain.pdf",
            "figures/nl1_separable.pdf",
            "figures/nl2_rich_lazy.pdf",
        ]
        + expand("figures/{figure}.pdf", figure=LR_FIGURES),
    output:
        "paper/main.pdf",
    log:
        "results/logs/paper/latexmk.log",
    benchmark:
        "results/benchmarks/paper/latexmk.tsv"
    conda:
        ENV
    shell:
        "python -m iloco latex --tex {input.tex} --workdir results/paper/latex --out {output} 2> {log}"
