"""The diagonal linear network x = u^L − v^L and its training: batched GD (SP1, SP2), SGD on
mini-batches of rows (SP3) and GD along its trajectory on noisy data (SP3), on the shared engine."""

from __future__ import annotations

import time

import numpy as np
import torch

from iloco.core.engine import Checkpoint, RunResult, StopRule, device_label, run_batched, run_segments
from iloco.core.errors import IlocoError
from iloco.sp.tables import rel_dist

TRAIN_KEYS = ("x", "alphas", "steps", "loss", "status", "wall_time_s", "device", "depth")


# --------------------------------------------------------------------------- training
def _pow(t: torch.Tensor, p: int) -> torch.Tensor:
    return torch.ones_like(t) if p == 0 else (t if p == 1 else t.pow(p))


def make_step(depth: int, lr: float):
    """Gradient step and loss of the depth-L diagonal network on ½‖Ax − y‖², batched.

    State: ``A`` (I, m, n), ``y`` (I, m, 1), ``s2`` (I, 1) = σ_max(A)², ``u``, ``v`` (I, n, K)
    for K initialization scales per instance. The step size of each cell is
    η = lr / λ̂, with λ̂ an upper bound on the largest Hessian eigenvalue at the current
    iterate: σ_max(A)² L² max(u^{2L−2} + v^{2L−2}) + L(L−1) max(u^{L−2} + v^{L−2}) max|Aᵀr|.
    So GD stays far from the edge of stability (η λ_max ≤ lr), tracks the gradient flow
    whose implicit bias the theory describes, and needs a number of steps that does not
    blow up as α → 0 (the relative change of u per step is bounded by lr/(L−1)).
    """
    L = depth

    def residual(st):
        x = _pow(st["u"], L) - _pow(st["v"], L)
        return torch.bmm(st["A"], x) - st["y"]

    def loss(st):
        r = residual(st)
        return 0.5 * (r * r).sum(dim=1) / st["ynorm2"]

    def gradients(st):
        """Gradients of ½‖Ax − y‖² in u and v, and the Hessian bound λ̂ per cell."""
        u, v = st["u"], st["v"]
        uL1, vL1 = _pow(u, L - 1), _pow(v, L - 1)
        r = torch.bmm(st["A"], uL1 * u - vL1 * v) - st["y"]
        g = torch.bmm(st["A"].transpose(1, 2), r)
        curv = st["s2"] * (L * L) * (uL1 * uL1 + vL1 * vL1).amax(dim=1)
        curv = curv + (L * (L - 1)) * (_pow(u, L - 2) + _pow(v, L - 2)).amax(dim=1) * g.abs().amax(dim=1)
        return L * uL1 * g, -L * vL1 * g, curv

    def step(st, frozen):
        gu, gv, curv = gradients(st)
        eta = torch.where(frozen, torch.zeros_like(curv), lr / curv).unsqueeze(1)
        st["u"].sub_(eta * gu)
        st["v"].sub_(eta * gv)

    step.gradients = gradients
    return step, loss


def initial_state(inst: dict, alphas: list[float], device: torch.device, dtype: torch.dtype) -> dict:
    """The engine state of the diagonal network on every instance × α: A, y, ½‖y‖², the
    squared spectral norm of A (for the step-size bound) and u = v = α."""
    A = torch.as_tensor(inst["A"], dtype=dtype, device=device)
    y = torch.as_tensor(inst["y"], dtype=dtype, device=device).unsqueeze(2)
    count, _, n = A.shape
    u0 = torch.as_tensor(alphas, dtype=dtype, device=device).expand(count, n, len(alphas)).clone()
    return {
        "A": A,
        "y": y,
        "ynorm2": 0.5 * (y * y).sum(dim=1),
        "s2": torch.linalg.matrix_norm(A, ord=2).pow(2).unsqueeze(1),
        "u": u0,
        "v": u0.clone(),
    }


def train(
    inst: dict,
    depth: int,
    alphas: list[float],
    stop: StopRule,
    lr: float,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
    progress: bool = True,
    checkpoint: Checkpoint | None = None,
) -> RunResult:
    """Train the depth-``depth`` network on every instance × α, as one batched computation."""
    if depth < 2:
        raise IlocoError(f"sp: depth must be at least 2, got {depth}")
    if min(alphas) <= 0:
        raise IlocoError(f"sp: alphas must be > 0, got {min(alphas)}")
    state = initial_state(inst, alphas, device, dtype)
    step, loss = make_step(depth, lr)
    return run_batched(state, step, loss, stop, desc=f"SP depth {depth}", progress=progress, checkpoint=checkpoint)


def network_output(result: RunResult, depth: int) -> np.ndarray:
    """The end-to-end vectors x = u^L − v^L, shape (instances, K, n)."""
    u, v = result.state["u"], result.state["v"]
    return (u.pow(depth) - v.pow(depth)).transpose(1, 2).numpy()


def train_arrays(
    inst: dict,
    depth: int,
    alphas: list[float],
    stop: StopRule,
    lr: float,
    device,
    dtype,
    progress=True,
    checkpoint: Checkpoint | None = None,
):
    """Train and pack the outcome as arrays for an ``.npz`` shard.

    The wall time is that of the training loop summed over resumed segments.
    """
    res = train(inst, depth, alphas, stop, lr, device, dtype, progress, checkpoint)
    wall = res.elapsed_s
    return {
        "x": network_output(res, depth),
        "alphas": np.asarray(alphas, dtype=float),
        "steps": res.steps,
        "loss": res.loss,
        "status": res.status,
        "wall_time_s": np.array(wall),
        "device": np.array(device_label(device)),
        "depth": np.array(depth),
    }


def make_sgd_step(depth: int, lr: torch.Tensor, batch: torch.Tensor, m: int):
    """(Mini-batch) SGD on the depth-L diagonal network, batched over instances × cells.

    Cell j uses the step lr_j / λ̂ (λ̂ the full-batch Hessian bound of ``make_step``, so GD and
    SGD at equal lr take equal step sizes) and the gradient of (m / b_j)·½‖A_B x − y_B‖² over
    b_j rows B drawn without replacement at every step from torch's global generator (which
    the engine's checkpoints save). b_j = m is full-batch GD.
    """
    gd_step, loss = make_step(depth, 1.0)
    gradients = gd_step.gradients
    L = depth
    lr = lr.view(1, 1, -1)
    batch = batch.view(1, 1, -1)

    def step(st, frozen):
        u, v = st["u"], st["v"]
        _, _, curv = gradients(st)
        uL1, vL1 = _pow(u, L - 1), _pow(v, L - 1)
        r = torch.bmm(st["A"], uL1 * u - vL1 * v) - st["y"]
        rank = torch.rand(r.shape, dtype=r.dtype, device=r.device).argsort(dim=1).argsort(dim=1)
        r = torch.where(rank < batch, r * (m / batch), torch.zeros_like(r))
        g = torch.bmm(st["A"].transpose(1, 2), r)
        eta = torch.where(frozen, torch.zeros_like(curv), 1.0 / curv).unsqueeze(1) * lr
        st["u"].sub_(eta * L * uL1 * g)
        st["v"].add_(eta * L * vL1 * g)

    return step, loss


def train_sgd(
    inst: dict,
    depth: int,
    alpha: float,
    lrs: list[float],
    batches: list[int],
    stop: StopRule,
    seed: int,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
    progress: bool = True,
) -> dict:
    """SGD (and GD: batch = m) from u = v = α on every instance × (batch, lr) cell, one tensor."""
    m = inst["A"].shape[1]
    if max(batches) > m or min(batches) < 1:
        raise IlocoError(f"sp3: batch sizes must lie in 1..m = {m}, got {sorted(batches)}")
    combos = [(b, lr) for b in batches for lr in lrs]
    cell_lr = torch.tensor([c[1] for c in combos], dtype=dtype, device=device)
    cell_b = torch.tensor([c[0] for c in combos], dtype=dtype, device=device)
    state = initial_state(inst, [alpha] * len(combos), device, dtype)
    torch.manual_seed(seed)
    step, loss = make_sgd_step(depth, cell_lr, cell_b, m)
    res = run_batched(state, step, loss, stop, desc=f"SP3 SGD depth {depth}", progress=progress)
    return {
        "x": network_output(res, depth),
        "alphas": np.full(len(combos), alpha),
        "lrs": np.array([c[1] for c in combos], dtype=float),
        "batches": np.array([c[0] for c in combos], dtype=int),
        "steps": res.steps,
        "loss": res.loss,
        "status": res.status,
        "wall_time_s": np.array(res.elapsed_s),
        "device": np.array(device_label(device)),
        "depth": np.array(depth),
    }


def record_steps(max_steps: int, points: int) -> np.ndarray:
    """Log-spaced step counts 1 … max_steps (distinct integers) at which the trajectory is recorded."""
    return np.unique(np.round(np.logspace(0, np.log10(max_steps), points)).astype(int))


def noise_trajectory(
    inst: dict,
    depth: int,
    alphas: list[float],
    lr: float,
    steps: np.ndarray,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
    progress: bool = True,
) -> dict:
    """GD on noisy data from every α, with ‖x_t − x*‖/‖x*‖ recorded at ``steps`` (early stopping).

    The run goes through the engine in segments between recording points (no stopping rule
    inside a segment: every cell takes exactly the steps between two records).
    """
    state = initial_state(inst, alphas, device, dtype)
    step, loss = make_step(depth, lr)
    x_star = inst["x_star"]
    err = np.empty((len(x_star), len(alphas), len(steps)))
    train_loss = np.empty_like(err)
    index = {int(t): i for i, t in enumerate(steps)}
    t0 = time.perf_counter()

    def record(st, t):
        with torch.no_grad():
            x = (st["u"].pow(depth) - st["v"].pow(depth)).transpose(1, 2).cpu().numpy()
            train_loss[:, :, index[t]] = loss(st).cpu().numpy()
        err[:, :, index[t]] = rel_dist(x, x_star[:, None, :])

    run_segments(state, step, loss, [int(t) for t in steps], record, "SP3 noise", 1000, progress)
    return {
        "err": err,
        "train_loss": train_loss,
        "steps": np.asarray(steps),
        "alphas": np.asarray(alphas, dtype=float),
        "wall_time_s": np.array(time.perf_counter() - t0),
        "device": np.array(device_label(device)),
        "depth": np.array(depth),
    }
