"""LR: deep linear networks and low rank (LR1 completion and sensing, LR2 dynamics, LR3 flows
up to infinite depth). Declarations in ``spec`` (torch-free)."""
