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
        ],
        figures=[
            "figures/sp1_alpha.pdf",
            "figures/sp2_phase.pdf",
            "figures/sp3_depth_sgd_noise.pdf",
            "figures/id1_identification.pdf",
        ],
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
