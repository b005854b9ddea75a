"""LR's stopping test uses Arora et al.'s training loss, the mean squared residual (1/m) Σ r²."""

from __future__ import annotations

import numpy as np
import torch

from iloco.core.engine import StopRule
from iloco.lr import flow, model, problems

CPU = torch.device("cpu")
TOL = 1e-4


def _mean_sq_residual(inst: dict, W: np.ndarray) -> np.ndarray:
    """(1/m) Σ_Ω r² per (instance, cell) of completion products W (I, C, d, d)."""
    mk = problems.masks(inst)
    R = (W - inst["W_star"][:, None]) * mk
    return (R * R).sum(axis=(-2, -1)) / mk.sum(axis=(-2, -1))


def test_completion_stops_at_mean_squared_residual_below_tol():
    """Checked every step, a converged cell has (1/m) Σ r² ≤ tol_loss, and that is the loss it
    reports. The loss (1/2m) Σ r² stopped it at a mean squared residual between tol and 2·tol."""
    inst = problems.make_instances("completion", 8, 1, [40], 2, seed=3)
    stop = StopRule(max_steps=20_000, tol_loss=TOL, tol_change=0.0, check_every=1)
    res = model.train(inst, 2, [1e-2], stop, 0.5, CPU, progress=False)
    assert (res.status == 1).all()  # converged
    msr = _mean_sq_residual(inst, model.product(res, 2))
    assert (msr <= TOL).all(), msr
    np.testing.assert_allclose(res.loss, msr, rtol=1e-9)


def test_flow_stops_at_mean_squared_residual_below_tol():
    """The end-to-end flow's stopping event uses the same convention as factorized training,
    and so does the final loss of its table."""
    inst = problems.make_instances("completion", 6, 1, [18], 1, seed=5)
    W_star, mask, Y = flow.completion_problem(inst, 0, 0)
    W0 = np.random.default_rng(5).standard_normal((6, 6)) * 1e-2 / np.sqrt(6)
    sol = flow.integrate_flow(W0, Y, mask, 2.0, TOL, 1e7, rtol=1e-6)
    assert sol.status == 1  # the event ended it
    R = (sol.y[:, -1].reshape(6, 6) - Y) * mask
    msr = float((R * R).sum()) / 18
    assert 0.5 * TOL < msr <= TOL * (1 + 1e-6)
    out = flow.flow_depths(inst, [2.0], 1e-2, TOL, 1e7, seed=5, rtol=1e-6)
    assert out["final_loss"].iloc[0] <= TOL * (1 + 1e-6)
