"""The paper on top of the families: generated constants, the provenance appendix, the LaTeX
build and the hand-typed-number check."""
