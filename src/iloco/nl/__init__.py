"""NL: nonlinear networks and classification (NL1 separable data and the SVM, NL2 rich against
lazy). Declarations in ``spec`` (torch-free)."""
