"""How an audit may re-compute SP's archived tables (``iloco.archive.audit``): the columns that
identify a row, and the smaller configs whose rows are a subset of the archive's.

Each SP2 row is seeded by its grid cell and trial (``problems.make_grid_instances``) and solved
on its own, so fewer trials give the archive's rows of those trials; the GD slice is a set of
grid rows (``grid.validation_rows``), so a sample of its ρ values gives their rows. Not part of
a table's key (``archive.store.PRESENTATION``): it says how to check the numbers, not how to
compute them.
"""

#: table → the columns that identify a row (floats matched to 12 digits).
KEYS = {
    "results/sp1/sp1.csv": ("instance", "depth", "alpha"),
    "results/sp2/sp2.csv": ("method", "depth", "delta", "rho", "trial"),
    "results/sp3/sgd.csv": ("instance", "alpha", "lr", "batch", "method"),
    "results/sp3/noise.csv": ("instance", "method", "alpha", "step", "lambda"),
}

#: config section → (changes, share of the section's job time they leave). A change is
#: ``(key path, value)`` or ``(key path, "sample", k)``: k values of that list drawn by the
#: audit's seed.
REDUCE = {
    "sp2": (
        (("sp2", "trials"), 1),
        (("sp2", "validation", "trials"), 1),
        (("sp2", "validation", "rhos"), "sample", 2),
    ),
}
#: the share of SP2's time the reduction leaves, measured at paper scale: 354 s against the
#: archive's 1 575 s (one core, shared with two other jobs), then 302 s against the 2 665 s of
#: the archive re-computed with 10⁶ GD steps. GD on the slice dominates, and its time is the
#: number of steps times a per-step cost that shrinks less than the number of rows, so the
#: share is well above the 1/50 of the trials.
SHARE = {"sp2": 0.15}
