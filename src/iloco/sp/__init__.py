"""SP: diagonal linear networks and sparsity (SP1 init scale from l1 to l2, SP2 phase
transitions, SP3 depth, SGD and early stopping). Declarations in ``spec`` (torch-free)."""
