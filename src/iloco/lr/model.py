"""LR1's model and training: depth-N matrix factorizations W = W_N ⋯ W_1 trained by GD or by
Arora et al.'s normalized RMSprop, every instance, observation count and init scale as one
batch on the shared engine."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from iloco.core.engine import Checkpoint, RunResult, StopRule, device_label, run_batched
from iloco.core.errors import IlocoError
from iloco.lr.problems import RMSPROP_BETA, RMSPROP_EPS, masks, measurements
from iloco.lr.spec import METHODS, TASKS

TRAIN_KEYS = ("W", "alphas", "steps", "loss", "status", "wall_time_s", "device", "depth", "method", "lr", "beta", "eps")


def balanced_factors(W: np.ndarray, depth: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Factors W_1 … W_N with product W and W_{j+1}ᵀW_{j+1} = W_j W_jᵀ (balanced): W_1 =
    Q_1 Σ^{1/N} Vᵀ, W_j = Q_j Σ^{1/N} Q_{j−1}ᵀ, W_N = U Σ^{1/N} Q_{N−1}ᵀ, random orthogonal Q."""
    U, S, Vh = np.linalg.svd(W)
    d = W.shape[0]
    root = np.diag(S ** (1.0 / depth))
    qs = [Vh.T] + [np.linalg.qr(rng.standard_normal((d, d)))[0] for _ in range(depth - 1)] + [U]
    return [qs[j + 1] @ root @ qs[j].T for j in range(depth)]


# --------------------------------------------------------------------------- training
def _product(fs: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """W = W_N ⋯ W_1 and the right partial products R_j = W_{j−1} ⋯ W_1 (None for j = 1)."""
    right: list[torch.Tensor | None] = [None]
    P = fs[0]
    for f in fs[1:]:
        right.append(P)
        P = torch.bmm(f, P)
    return P, right


def _factor_grads(fs: list[torch.Tensor], G: torch.Tensor, right: list[torch.Tensor | None]) -> list[torch.Tensor]:
    """∂L/∂W_j = (W_N ⋯ W_{j+1})ᵀ ∇L(W) (W_{j−1} ⋯ W_1)ᵀ for every factor."""
    grads: list[torch.Tensor] = [None] * len(fs)  # type: ignore[list-item]
    left = G  # (W_N ⋯ W_{j+1})ᵀ G, built from the top
    for j in reversed(range(len(fs))):
        grads[j] = left if right[j] is None else torch.bmm(left, right[j].transpose(1, 2))
        if j:
            left = torch.bmm(fs[j].transpose(1, 2), left)
    return grads


def make_step(
    task: str, depth: int, method: str = "gd", beta: float = RMSPROP_BETA, eps: float = RMSPROP_EPS
) -> tuple[Callable, Callable]:
    """One training step and the loss of the depth-N factorization on L(W) = (1/2m) Σ_k r_k², batched.

    The step follows the gradient of L; the loss it reports (the stopping test against
    ``tol_loss`` and the final loss of the table) is Arora et al.'s training loss, the mean
    squared residual over the observations (1/m) Σ_k r_k² = 2L, so that ``tol_loss`` means
    what their "train loss < 1e-6" means. The factor 2 changes no step.

    ``gd``: W_j ← W_j − η ∂L/∂W_j with the fixed step η of each cell (:func:`step_sizes`).
    ``rmsprop``: the normalized variant of RMSprop of Arora, Cohen, Hu, Luo (NeurIPS 2019; their
    ``GroupRMSprop``, github.com/roosephu/deep_matrix_factorization, opt.py): one running
    average per cell of the squared gradient norm over all factors together (global, not per
    coordinate), bias-corrected, dividing a fixed learning rate η:

        v_t = β v_{t−1} + (1 − β) Σ_j ‖∂L/∂W_j‖_F²,   v_0 = 0,
        W_j ← W_j − η / (√(v_t / (1 − β^t)) + ε) · ∂L/∂W_j,

    so each step has length ≈ η in the factors whatever the loss's scale. Frozen cells move
    neither their factors nor their (v, t).

    State: factors ``W0`` … ``W{N−1}`` of shape (I, C, d, d) (C cells per instance: observation
    counts × init scales), ``eta`` (I, C) the step (gd) or learning rate η (rmsprop) of each
    cell, ``inv_m`` (I, C) = 1/m, and either ``Y`` and ``mask`` (I, C, d, d) (completion) or
    ``A`` (I, m_max, d²), ``y`` (I, m_max) and ``w`` (I, C, m_max) ∈ {0, 1} marking each cell's
    first m measurements; rmsprop adds its buffers ``sq_avg`` (v) and ``sq_steps`` (t), (I, C).
    """
    if method not in METHODS:
        raise IlocoError(f"lr: method {method!r} is not one of {', '.join(METHODS)}")
    if task not in TASKS:
        raise IlocoError(f"lr: task {task!r} is not one of {', '.join(TASKS)}")
    if not (0 <= beta < 1 and eps > 0):
        raise IlocoError(f"lr: rmsprop needs 0 <= beta < 1 and eps > 0, got beta={beta}, eps={eps}")

    def factors(st):
        shape = st["W0"].shape
        return [st[f"W{j}"].reshape(-1, shape[-2], shape[-1]) for j in range(depth)], shape

    def residual_grad(st, W):
        """The mean squared residual (1/m) Σ r² = 2L per cell and ∇L(W), for the product W of shape (I, C, d, d)."""
        if task == "completion":
            R = (W - st["Y"]) * st["mask"]
            loss = (R * R).sum(dim=(-2, -1)) * st["inv_m"]
            return loss, R * st["inv_m"][..., None, None]
        rows, cells, d, _ = W.shape
        r = (torch.bmm(W.reshape(rows, cells, d * d), st["A"].transpose(1, 2)) - st["y"].unsqueeze(1)) * st["w"]
        loss = (r * r).sum(dim=-1) * st["inv_m"]
        G = torch.bmm(r * st["inv_m"].unsqueeze(-1), st["A"]).reshape(rows, cells, d, d)
        return loss, G

    def loss(st):
        fs, shape = factors(st)
        W, _ = _product(fs)
        return residual_grad(st, W.reshape(shape))[0]

    def rate(st, grads, frozen, shape):
        """The multiplier of the gradient per cell; buffers of running cells advance."""
        if method == "gd":
            return torch.where(frozen, torch.zeros_like(st["eta"]), st["eta"])
        sq = sum((g * g).sum(dim=(-2, -1)) for g in grads).reshape(shape[:2])
        v, t = st["sq_avg"], st["sq_steps"]
        v.copy_(torch.where(frozen, v, beta * v + (1 - beta) * sq))
        t.add_((~frozen).to(t.dtype))
        # 1 − β^t ≥ 1 − β for a cell that has stepped; the clamp only spares unstepped frozen cells a 0/0
        v_hat = v / (1 - beta**t).clamp_min(1 - beta)
        return torch.where(frozen, torch.zeros_like(v), st["eta"] / (v_hat.sqrt() + eps))

    def full_step(st, frozen):
        fs, shape = factors(st)
        W, right = _product(fs)
        _, G = residual_grad(st, W.reshape(shape))
        grads = _factor_grads(fs, G.reshape(-1, shape[-2], shape[-1]), right)
        eta = rate(st, grads, frozen, shape).reshape(-1, 1, 1)
        for j in range(depth):
            fs[j].sub_(eta * grads[j])

    return _running_cells(full_step, task, depth), loss


def _running_cells(full_step: Callable, task: str, depth: int) -> Callable:
    """Wrap ``make_step``'s step over all cells so that it works on the running cells only."""
    per_cell = [f"W{j}" for j in range(depth)] + ["Y", "mask", "inv_m", "eta", "sq_avg", "sq_steps"]
    moving = [f"W{j}" for j in range(depth)] + ["sq_avg", "sq_steps"]

    def step(st, frozen):
        """``full_step`` on the running cells only. In completion every cell has its own data,
        so once some cells have stopped, the running ones are gathered into one smaller batch
        (the matrix products are ~N d³ per cell, the gather ~N d²) and scattered back. The
        engine drops an instance only when all its cells stopped; this drops the cells. Each
        cell's arithmetic is the same either way (tested bitwise). In sensing the cells of an
        instance share its measurements, which are read up to the largest m still running."""
        if not bool(frozen.any()):
            return full_step(st, frozen)
        if bool(frozen.all()):
            return None
        if task == "sensing":
            # a cell reads only its first m measurements: when the cells still running all
            # have small m, the operator is read up to their largest m only (reading it is
            # the cost of a sensing step; sums over fewer exact zeros, same values to rounding)
            m_need = int(round(1.0 / float(st["inv_m"][~frozen].min())))
            sub = dict(st, A=st["A"][:, :m_need], y=st["y"][:, :m_need], w=st["w"][..., :m_need])
            return full_step(sub, frozen)
        idx = (~frozen).flatten().nonzero().squeeze(1)
        if idx.numel() == 0:
            return None
        cells = frozen.numel()
        sub = {k: st[k].reshape(cells, *st[k].shape[2:])[idx].unsqueeze(0) for k in per_cell if k in st}
        full_step(sub, torch.zeros(1, idx.numel(), dtype=torch.bool, device=frozen.device))
        for k in moving:
            if k in st:
                st[k].view(cells, *st[k].shape[2:])[idx] = sub[k][0]
        return None

    return step


def step_sizes(inst: dict, depth: int, lr: float) -> np.ndarray:
    """The GD step of every (instance, observation count): lr / κ, with κ the larger of the
    curvature of L at a balanced product of the target's scale, N σ̂^{2−2/N} / d², and the
    largest curvature of L in W itself (1/m for completion; σ_max(A_{1:m})²/m for sensing).

    σ̂ estimates σ_max(W*) from the observations alone: the top singular value of the
    back-projection (d²/m) P*(y), which is W* in expectation. The step is fixed per cell,
    so GD is a discretization of the factors' gradient flow at a scale-free resolution."""
    task = str(inst["task"])
    count, d = inst["W_star"].shape[:2]
    obs = inst["observations"]
    out = np.empty((count, len(obs)))
    mk = masks(inst) if task == "completion" else None
    y = measurements(inst) if task == "sensing" else None
    for i in range(count):
        for j, m in enumerate(obs):
            if task == "completion":
                back = inst["W_star"][i] * mk[i, j] * (d * d / m)
                lam = 1.0 / m
            else:
                back = (y[i, :m] @ inst["A"][i, :m]).reshape(d, d) * (d * d / m)
                lam = np.linalg.norm(inst["A"][i, :m], 2) ** 2 / m
            s = np.linalg.norm(back, 2)
            out[i, j] = lr / max(depth * s ** (2 - 2 / depth) / d**2, lam)
    return out


def init_factors(
    inst_seeds: np.ndarray, d: int, depth: int, m_per_cell: np.ndarray, alphas_per_cell: np.ndarray, seed: int
) -> np.ndarray:
    """Gaussian factors W_j = α^{1/N} G_j / √d, shape (N, instances, cells, d, d): the end-to-end
    map then has E‖W(0)x‖² = α²‖x‖² for every x. The draw of a cell depends only on the root
    seed, the instance's own seed pair, N, m and α (its bits), never on the batch it runs in."""
    count, cells = len(inst_seeds), len(alphas_per_cell)
    out = np.empty((depth, count, cells, d, d))
    for i in range(count):
        for c in range(cells):
            bits = int(np.float64(alphas_per_cell[c]).view(np.int64))
            rng = np.random.default_rng([seed, *map(int, inst_seeds[i]), depth, int(m_per_cell[c]), bits])
            scale = alphas_per_cell[c] ** (1.0 / depth) / math.sqrt(d)
            out[:, i, c] = rng.standard_normal((depth, d, d)) * scale
    return out


def train(
    inst: dict,
    depth: int,
    alphas: list[float],
    stop: StopRule,
    lr: float,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
    method: str = "gd",
    seed: int = 0,
    progress: bool = True,
    checkpoint: Checkpoint | None = None,
    factors: np.ndarray | None = None,
    trace: list | None = None,
    trace_every: int = 100,
    beta: float = RMSPROP_BETA,
    eps: float = RMSPROP_EPS,
) -> RunResult:
    """Train the depth-N factorization on every instance × observation count × α at once,
    by ``method`` (gd, or rmsprop with decay ``beta`` and ``eps``: :func:`make_step`).

    Cells are ordered (count, α) with α fastest. The product of the factors is in
    :func:`product`. With ``trace`` (a list), the products along the way are appended to it
    every ``trace_every`` steps (see :func:`_traced`).
    """
    if depth < 1:
        raise IlocoError(f"lr: depth must be at least 1, got {depth}")
    if not alphas or min(alphas) <= 0:
        raise IlocoError(f"lr: alphas must be > 0, got {min(alphas) if alphas else 'none'}")
    step, loss = make_step(str(inst["task"]), depth, method, beta, eps)
    state = initial_state(inst, depth, alphas, lr, seed, device, dtype, factors, method)
    if trace is not None:
        step = _traced(step, depth, trace_every, trace)
    return run_batched(state, step, loss, stop, desc=f"LR depth {depth}", progress=progress, checkpoint=checkpoint)


def _traced(step: Callable, depth: int, every: int, store: list) -> Callable:
    """Wrap a step so that every ``every`` steps it appends (step, row ids, product) to ``store``
    (rows: the instances still running). For short diagnostic runs: not checkpointed."""
    count = [0]

    def traced(st, frozen):
        step(st, frozen)
        count[0] += 1
        if count[0] % every == 0:
            store.append((count[0], st["row"].cpu().numpy().copy(), product(st, depth)))

    return traced


def initial_state(inst, depth, alphas, lr, seed, device, dtype, factors=None, method="gd") -> dict[str, torch.Tensor]:
    """The engine state of :func:`make_step`; ``factors`` (N, I, C, d, d) replaces the
    Gaussian start (used to start from balanced factors). The step per cell: lr/κ by
    :func:`step_sizes` for gd; for rmsprop the learning rate η = lr itself, the same for every
    cell (as Arora et al.: the normalization already makes the step length scale-free)."""
    task = str(inst["task"])
    count, d = inst["W_star"].shape[:2]
    obs = inst["observations"]
    n_a = len(alphas)
    cells = len(obs) * n_a
    t = lambda x: torch.tensor(np.array(x), dtype=dtype, device=device)  # noqa: E731  (a copy: never aliases)
    a_cell = np.tile(np.asarray(alphas, dtype=float), len(obs))
    m_cell = np.repeat(obs, n_a)
    fs = init_factors(inst["seeds"], d, depth, m_cell, a_cell, seed) if factors is None else factors
    state = {f"W{j}": t(fs[j]) for j in range(depth)}
    state["row"] = torch.arange(count, device=device)
    if method == "rmsprop":
        state["eta"] = t(np.full((count, cells), lr))
        state["sq_avg"] = t(np.zeros((count, cells)))
        state["sq_steps"] = t(np.zeros((count, cells)))
    else:
        state["eta"] = t(np.repeat(step_sizes(inst, depth, lr), n_a, axis=1))
    state["inv_m"] = t(np.broadcast_to(1.0 / m_cell, (count, cells)))
    if task == "completion":
        mk = np.repeat(masks(inst), n_a, axis=1)
        state["mask"] = t(mk)
        state["Y"] = t(inst["W_star"][:, None] * mk)  # only the observed entries
    else:
        m_max = inst["A"].shape[1]
        state["A"] = t(inst["A"])
        state["y"] = t(measurements(inst))
        state["w"] = t(
            np.broadcast_to((np.arange(m_max)[None, :] < m_cell[:, None]).astype(float), (count, cells, m_max))
        )
    return state


def product(result: RunResult | dict, depth: int) -> np.ndarray:
    """The end-to-end matrices W = W_N ⋯ W_1, shape (I, C, d, d)."""
    st = result.state if isinstance(result, RunResult) else result
    W = st["W0"]
    for j in range(1, depth):
        W = st[f"W{j}"] @ W
    return W.cpu().numpy().copy()


def train_arrays(
    inst,
    depth,
    alphas,
    stop,
    lr,
    device,
    dtype,
    method="gd",
    seed=0,
    progress=True,
    checkpoint=None,
    beta=RMSPROP_BETA,
    eps=RMSPROP_EPS,
):
    """Train and pack the outcome for an ``.npz`` shard (wall time: the training loop's)."""
    res = train(inst, depth, alphas, stop, lr, device, dtype, method, seed, progress, checkpoint, beta=beta, eps=eps)
    return {
        "W": product(res, depth),
        "alphas": np.asarray(alphas, dtype=float),
        "steps": res.steps,
        "loss": res.loss,
        "status": res.status,
        "wall_time_s": np.array(res.elapsed_s),
        "device": np.array(device_label(device)),
        "depth": np.array(depth),
        "method": np.array(method),
        "lr": np.array(lr),
        "beta": np.array(beta),
        "eps": np.array(eps),
    }
