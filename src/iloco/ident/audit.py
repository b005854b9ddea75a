"""How an audit may re-compute ID's archived tables (``iloco.archive.audit``): the columns that
identify a row, and the smaller configs whose rows are a subset of the archive's.

Networks are drawn from (seed, trial) whatever the cell and identified each from its own
streams (``shallow.run_cell``, ``two_layer``, ``regime``), so fewer trials give the archive's
first trials of every cell, and a sample of a sweep's values gives those cells. ID1's and
ID2's sweep tables have one row per trial in trial order and no trial column: ``_nth`` (the
row's position within its cell) stands for it. Not part of a table's key
(``archive.store.PRESENTATION``).
"""

_ID1 = ("sweep", "d", "m", "nonortho", "noise", "h", "n_hessians", "_nth")
#: table → the columns that identify a row (floats matched to 12 digits).
KEYS = {
    "results/id1/recovery.csv": _ID1,
    "results/id1/noise.csv": _ID1,
    "results/id1/wide.csv": _ID1,
    "results/id1/queries.csv": _ID1,
    "results/id2/two_layer.csv": ("d", "m0", "m1", "n_hessians", "radius", "_nth"),
    "results/id2/regime.csv": ("d", "m0", "m1", "theta_scale", "radius", "instance"),
}

#: config section → changes (``(key path, value)`` or ``(key path, "sample", k)``).
REDUCE = {
    "id1": (
        (("id1", "trials"), 2),
        (("id1", "recovery", "n_hessians"), "sample", 3),
        (("id1", "recovery", "nonortho"), "sample", 1),
        (("id1", "noise", "h"), "sample", 1),
        (("id1", "noise", "noise"), "sample", 2),
        (("id1", "wide", "m"), "sample", 1),
        (("id1", "queries", "d"), "sample", 2),
    ),
    "id2": (
        (("id2", "trials"), 2),
        (("id2", "widths"), "sample", 1),
        (("id2", "n_hessians"), "sample", 2),
        (("id2", "regime", "trials"), 2),
        (("id2", "regime", "d"), "sample", 1),
        (("id2", "regime", "widths"), "sample", 2),
        (("id2", "regime", "radius"), "sample", 2),
    ),
}
#: the share of the job time the reductions leave (a few cells of each sweep, two trials),
#: measured at paper scale on a quiet machine (2026-12-01): ID1 21 s and, drawing its widest
#: networks (m = 150, queries at d = 40 and 60), 79 s of the archive's 8 121 s; ID2 17 s of
#: 3 239 s. About twice the slowest draw, so that a default audit has room for them.
SHARE = {"id1": 1 / 50, "id2": 1 / 50}
#: Relative tolerance of a reduced re-computation. Every stage stops per instance and draws from
#: per-instance streams (query noise too: ``networks.Oracle`` draws it in fixed blocks, so
#: the call sizes, which follow the batch size, do not change it), but batched linear algebra
#: of other shapes rounds differently, and an under-determined identification (N_h < m)
#: amplifies that: fewer trials move its error metrics by up to ~2e-5 relative (measured at
#: paper scale: N_h = 14, ν = 0.25, 2 against 20 trials; 7e-9 with noise 1e-6); the decisions
#: (recovered, complete) are compared exactly.
RTOL = 1e-4
