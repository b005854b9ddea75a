"""How an audit may re-compute LR's archived tables (``iloco.archive.audit``): the columns that
identify a row, and the smaller configs whose rows are a subset of the archive's.

Instances are drawn one by one from ``[seed, i]`` (``problems.make_instances``), so fewer
instances give the archive's first ones; every depth is its own run from the same seed (LR2's
dynamics, LR3's flows, LR1's training per depth), so a sample of depths gives their rows. Not
part of a table's key (``archive.store.PRESENTATION``).
"""

#: table → the columns that identify a row (floats matched to 12 digits).
KEYS = {
    "results/lr/completion.csv": ("task", "instance", "observations", "method", "depth", "alpha"),
    "results/lr/sensing.csv": ("task", "instance", "observations", "method", "depth", "alpha"),
    "results/lr/dynamics.csv": ("setting", "depth", "step"),
    "results/lr/flow_depths.csv": ("instance", "observations", "depth"),
    "results/lr/flow_gd.csv": ("depth", "observations", "lr"),
}

#: config section → changes (``(key path, value)``, ``(key path, "sample", k)`` or
#: ``(key path, "at_most", k)``: ``archive.audit.reduced``).
REDUCE = {
    "lr": (
        # as many instances as RMSprop runs on at paper scale (``lr.rmsprop.instances``), so that
        # its batch is the archive's: a sensing cell reads the operator up to the largest m still
        # running in the batch, so other instances change its sums' rounding, and RMSprop's
        # fixed-length steps amplify that (on 1 instance, not 3: rel_error 1.6 % off at m = 600)
        (("lr", "completion", "instances"), "at_most", 3),
        (("lr", "sensing", "instances"), "at_most", 3),
        (("lr", "depths"), "sample", 1),
        (("lr", "dynamics", "depths"), "sample", 1),
        (("lr", "flow", "instances"), 1),
        (("lr", "flow", "depths"), "sample", 2),
        (("lr", "flow", "gd_depths"), "sample", 1),
    ),
}
#: the share of LR's job time the reduction leaves: one depth in four of each part, LR1 on 3 of
#: 10 instances (measured 2026-12-01 at paper scale, depth 3 drawn: 632 s of the archive's 8 987 s,
#: beside another job; depth 1's RMSprop is the slowest draw).
SHARE = {"lr": 1 / 10}
