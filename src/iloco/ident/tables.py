"""ID's result tables: the columns each table must have (checked on read)."""

from __future__ import annotations

ID1_COLUMNS = (
    "sweep",
    "d",
    "m",
    "nonortho",
    "noise",
    "h",
    "n_hessians",
    "recovered",
    "complete",
    "claimed_complete",
    "uniform_rel_err",
    "queries",
    "device",
    "commit",
)


ID2_COLUMNS = (
    "d",
    "m0",
    "m1",
    "n_hessians",
    "radius",
    "first_frac",
    "entangled_frac",
    "complete",
    "span_error",
    "queries",
    "device",
)


ID3_CHAIN_COLUMNS = (
    "teacher",
    "d",
    "teacher_width",
    "student_width",
    "init_scale",
    "train_loss",
    "student_vs_teacher_mean",
    "method",
    "width",
    "compression",
    "vs_student_mean",
    "vs_teacher_mean",
    "recovered",
    "queries",
    "device",
)


ID3_BUDGET_COLUMNS = ("d", "m", "n_hessians", "method", "queries", "recovered", "complete", "uniform_rel_err", "device")
#: The ID2 regime map (``regime.regime_sweep``): one row per network x setting.
ID2_REGIME_COLUMNS = (
    "d",
    "m0",
    "m1",
    "theta_scale",
    "radius",
    "instance",
    "first_frac",
    "entangled_frac",
    "complete",
    "max_angle",
    "span_dirs_ok",
    "completeness",
    "drift_G",
    "drift_v",
    "device",
)
