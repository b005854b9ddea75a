"""NL's result tables: the columns each table must have (checked on read)."""

from __future__ import annotations

NL1_COLUMNS = (
    "data",
    "instance",
    "d",
    "loss_fn",
    "t",
    "loss",
    "w_norm",
    "angle",
    "margin",
    "svm_norm",
    "svm_margin",
    "model",
    "param_margin",
    "device",
)


NL2_TEACHER_COLUMNS = (
    "teacher",
    "teacher_width",
    "width",
    "init_scale",
    "test_rel_mse",
    "effective_rank",
    "stable_rank",
    "directions",
    "rel_change",
    "device",
)


NL2_DIGITS_COLUMNS = ("kind", "seed", "init_scale", "rank", "accuracy", "params_kept", "params_total", "device")
