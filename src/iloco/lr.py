"""LR family: deep linear networks (deep matrix factorizations) and low rank.

A depth-N factorization represents a d×d matrix as the product W = W_N ⋯ W_1 of N square
factors. Gradient descent on the squared error of a few observations of a low-rank W*
(entries: completion; Gaussian linear measurements: sensing), started near zero, is biased
towards products of low rank, more so the deeper the factorization (Arora, Cohen, Hu, Luo,
NeurIPS 2019). For a balanced start the product follows its own (Riemannian) gradient flow,

    dW/dτ = −(1/N) Σ_{j=1}^N (WWᵀ)^{(N−j)/N} ∇L(W) (WᵀW)^{(j−1)/N},   τ = N t,

(t the time of the factors' gradient flow; the 1/N keeps N → ∞ finite), whose N → ∞ limit
is −∫_0^1 (WWᵀ)^{1−s} ∇L(W) (WᵀW)^s ds (Cohen, Menon, Veraszto, SIAM J. Appl. Dyn. Syst.
2023). In the singular basis W = U Σ Vᵀ both act entrywise on Uᵀ ∇L V with the kernel
K_N(σ_k², σ_l²), a closed form computed by :func:`flow_kernel`.

This module draws the instances, trains the factorizations through the shared engine (all
instances × observation counts × init scales of a depth as one batched computation; by GD, or
for LR1 also by the normalized RMSprop Arora et al. used, see :func:`make_step`), solves
the nuclear-norm baseline with cvxpy, integrates the end-to-end flows and tabulates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from iloco.engine import STATUS, Checkpoint, RunResult, StopRule, device_label, fixed_steps, run_batched
from iloco.errors import IlocoError

TASKS = ("completion", "sensing")
METHODS = ("gd", "rmsprop")
#: Decay β and ε of the normalized RMSprop step (Arora et al.'s GroupRMSprop with their β = 0.99
#: and ε = 1e-4 on the loss (1/m) Σ r² = 2L, which is ε = 5e-5 on our L; see :func:`make_step`).
RMSPROP_BETA, RMSPROP_EPS = 0.99, 5e-5
INSTANCE_KEYS = ("task", "W_star", "order", "A", "observations", "seeds")
BASELINE_KEYS = ("W_nuc", "status", "solve_time_s", "solver", "eps")
TRAIN_KEYS = ("W", "alphas", "steps", "loss", "status", "wall_time_s", "device", "depth", "method", "lr", "beta", "eps")
#: How many leading singular values every row of a table carries (sv1, sv2, …).
N_SV = 10


# --------------------------------------------------------------------------- instances
def check_problem(d: int, rank: int, observations: list[int], task: str) -> None:
    """One-line errors for impossible problem sizes."""
    if task not in TASKS:
        raise IlocoError(f"lr: task {task!r} is not one of {', '.join(TASKS)}")
    if d < 2:
        raise IlocoError(f"lr: need d >= 2, got d={d}")
    if not 1 <= rank < d:
        raise IlocoError(f"lr: need 1 <= rank < d for a low-rank ground truth, got rank={rank}, d={d}")
    if not observations:
        raise IlocoError("lr: observations must not be empty")
    bad = [m for m in observations if not 1 <= m <= d * d]
    if bad:
        raise IlocoError(f"lr: observations {bad[0]} outside 1..d^2 = {d * d} for d={d}")


def ground_truth(d: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    """W* = U Vᵀ with Gaussian U, V ∈ R^{d×r}, scaled to ‖W*‖_F = d (entries of RMS 1)."""
    U = rng.standard_normal((d, rank))
    V = rng.standard_normal((d, rank))
    W = U @ V.T
    return W * (d / np.linalg.norm(W))


def make_instances(task: str, d: int, rank: int, observations: list[int], count: int, seed: int) -> dict:
    """Draw ``count`` instances; each holds W* and the observations for every count m.

    Observation sets are nested: the first m entries of a random order of the d² entries
    (completion), or the first m of a sequence of Gaussian measurements ⟨A_k, W⟩ with
    A_k of i.i.d. N(0, 1/d²) entries (sensing; so y_k has the scale of an entry of W*). Instance
    i uses the seed sequence (seed, i) and does not change when ``count`` or the list of
    counts grows (as long as its maximum does not, for sensing).
    """
    check_problem(d, rank, observations, task)
    m_max = max(observations)
    W_star = np.empty((count, d, d))
    order = np.empty((count, d * d), dtype=np.int64)
    A = np.empty((count, m_max if task == "sensing" else 0, d * d))
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        W_star[i] = ground_truth(d, rank, rng)
        order[i] = rng.permutation(d * d)
        if task == "sensing":
            A[i] = rng.standard_normal((m_max, d * d)) / d
    return {
        "task": np.array(task),
        "W_star": W_star,
        "order": order,
        "A": A,
        "observations": np.asarray(sorted(observations), dtype=np.int64),
        "seeds": np.array([[seed, i] for i in range(count)], dtype=np.int64),
    }


def masks(inst: dict) -> np.ndarray:
    """Completion masks, shape (instances, counts, d, d): 1 on the first m entries of the order."""
    count, d = inst["W_star"].shape[:2]
    obs = inst["observations"]
    out = np.zeros((count, len(obs), d * d))
    for j, m in enumerate(obs):
        np.put_along_axis(out[:, j], inst["order"][:, :m], 1.0, axis=1)
    return out.reshape(count, len(obs), d, d)


def measurements(inst: dict) -> np.ndarray:
    """Sensing measurements y_k = ⟨A_k, W*⟩, shape (instances, m_max)."""
    count, d = inst["W_star"].shape[:2]
    return np.einsum("ikn,in->ik", inst["A"], inst["W_star"].reshape(count, d * d))


# --------------------------------------------------------------------------- metrics
def effective_rank(sv: np.ndarray) -> np.ndarray:
    """Roy & Vetterli's effective rank exp(H(p)), p = σ/‖σ‖₁, along the last axis."""
    sv = np.asarray(sv, dtype=float)
    total = sv.sum(axis=-1, keepdims=True)
    p = np.divide(sv, total, out=np.zeros_like(sv), where=total > 0)
    h = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)
    return np.exp(h)


def rel_error(W: np.ndarray, W_star: np.ndarray) -> np.ndarray:
    """‖W − W*‖_F / ‖W*‖_F over the last two axes (all entries: observed and not)."""
    return np.linalg.norm(W - W_star, axis=(-2, -1)) / np.linalg.norm(W_star, axis=(-2, -1))


# --------------------------------------------------------------------------- baseline
def nuclear_norm(inst: dict, eps: float = 1e-6, max_iters: int = 5000) -> dict:
    """min ‖X‖_* subject to the observations, per instance and observation count.

    A semidefinite program built by cvxpy and solved by SCS (a first-order conic solver) with
    absolute and relative tolerance ``eps``. Status 0 is optimal; 1 anything else (the
    solution is then NaN).
    """
    import cvxpy as cp

    task = str(inst["task"])
    count, d = inst["W_star"].shape[:2]
    obs = inst["observations"]
    W = np.full((count, len(obs), d, d), np.nan)
    status = np.ones((count, len(obs)), dtype=np.int64)
    secs = np.zeros((count, len(obs)))
    y_all = measurements(inst) if task == "sensing" else None
    for i in range(count):
        for j, m in enumerate(obs):
            X = cp.Variable((d, d))
            if task == "completion":
                rows, cols = np.unravel_index(inst["order"][i, :m], (d, d))
                cons = [X[rows, cols] == inst["W_star"][i][rows, cols]]
            else:
                cons = [inst["A"][i, :m] @ cp.vec(X, order="C") == y_all[i, :m]]
            prob = cp.Problem(cp.Minimize(cp.normNuc(X)), cons)
            t0 = time.perf_counter()
            try:
                prob.solve(solver=cp.SCS, eps_abs=eps, eps_rel=eps, max_iters=max_iters)
            except cp.error.SolverError:
                pass
            secs[i, j] = time.perf_counter() - t0
            if prob.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and X.value is not None:
                W[i, j] = X.value
                status[i, j] = 0
    return {"W_nuc": W, "status": status, "solve_time_s": secs, "solver": np.array("SCS"), "eps": np.array(eps)}


# --------------------------------------------------------------------------- the flows
def flow_kernel(a: torch.Tensor, b: torch.Tensor, depth: float) -> torch.Tensor:
    """K_N(a, b) = (1/N) Σ_{j=1}^N a^{(N−j)/N} b^{(j−1)/N} = (a − b) / (N (a^{1/N} − b^{1/N}))
    for a, b ≥ 0 (squared singular values), and for N = ∞ its limit ∫_0^1 a^{1−s} b^s ds =
    (a − b)/(ln a − ln b), the logarithmic mean (0 when a or b is 0). On the diagonal a = b
    both equal a^{(N−1)/N}; N = 1 gives 1."""
    a, b = torch.broadcast_tensors(a, b)
    if depth == 1:
        return torch.ones_like(a)
    if math.isinf(depth):
        la, lb = torch.log(a), torch.log(b)
        den = la - lb
        near = den.abs() < 1e-6
        safe = torch.where(near, torch.ones_like(den), den)
        out = torch.where(near, torch.sqrt(a * b) * (1 + den * den / 24), (a - b) / safe)
        return torch.where((a == 0) | (b == 0), torch.zeros_like(a), out)
    p = 1.0 / depth
    ap, bp = a.pow(p), b.pow(p)
    den = depth * (ap - bp)
    near = (ap - bp).abs() <= 1e-7 * torch.maximum(ap, bp)
    # on (and near) the diagonal: the sum of N equal terms, at the geometric mean
    diag = (a * b).clamp_min(0).sqrt().pow(1 - p)
    return torch.where(near, diag, (a - b) / torch.where(near, torch.ones_like(den), den))


def end_to_end_velocity(W: torch.Tensor, grad: torch.Tensor, depth: float) -> torch.Tensor:
    """−(1/N) Σ_j (WWᵀ)^{(N−j)/N} ∇L (WᵀW)^{(j−1)/N} (N = ∞: the integral), batched over the
    leading axes, through the SVD W = U Σ Vᵀ: U (K ∘ Uᵀ ∇L V) Vᵀ with K_kl = K_N(σ_k², σ_l²)."""
    U, S, Vh = torch.linalg.svd(W)
    s2 = S * S
    K = flow_kernel(s2.unsqueeze(-1), s2.unsqueeze(-2), depth)
    G = U.transpose(-2, -1) @ grad @ Vh.transpose(-2, -1)
    return -(U @ (K * G) @ Vh)


def end_to_end_velocity_sum(W: torch.Tensor, grad: torch.Tensor, depth: int) -> torch.Tensor:
    """The same velocity as a literal sum of matrix powers (a reference for tests)."""
    U, S, Vh = torch.linalg.svd(W)
    out = torch.zeros_like(W)
    for j in range(1, depth + 1):
        left = U @ torch.diag_embed(S.pow(2 * (depth - j) / depth)) @ U.transpose(-2, -1)
        right = Vh.transpose(-2, -1) @ torch.diag_embed(S.pow(2 * (j - 1) / depth)) @ Vh
        out = out + left @ grad @ right
    return -out / depth


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
        """Residuals' loss per cell and ∇L(W), for the product W of shape (I, C, d, d)."""
        if task == "completion":
            R = (W - st["Y"]) * st["mask"]
            loss = 0.5 * (R * R).sum(dim=(-2, -1)) * st["inv_m"]
            return loss, R * st["inv_m"][..., None, None]
        rows, cells, d, _ = W.shape
        r = (torch.bmm(W.reshape(rows, cells, d * d), st["A"].transpose(1, 2)) - st["y"].unsqueeze(1)) * st["w"]
        loss = 0.5 * (r * r).sum(dim=-1) * st["inv_m"]
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

    def step(st, frozen):
        fs, shape = factors(st)
        W, right = _product(fs)
        _, G = residual_grad(st, W.reshape(shape))
        grads = _factor_grads(fs, G.reshape(-1, shape[-2], shape[-1]), right)
        eta = rate(st, grads, frozen, shape).reshape(-1, 1, 1)
        for j in range(depth):
            fs[j].sub_(eta * grads[j])

    return step, loss


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


# --------------------------------------------------------------------------- table
def _row_metrics(W: np.ndarray, W_star: np.ndarray, d: int) -> dict:
    if not np.all(np.isfinite(W)):
        out = {"rel_error": math.nan, "mse": math.nan, "effective_rank": math.nan, "nuclear_norm": math.nan}
        out.update({f"sv{k + 1}": math.nan for k in range(min(N_SV, d))})
        return out
    sv = np.linalg.svd(W, compute_uv=False)
    out = {
        "rel_error": float(rel_error(W, W_star)),
        "mse": float(np.mean((W - W_star) ** 2)),
        "effective_rank": float(effective_rank(sv)),
        "nuclear_norm": float(sv.sum()),
    }
    out.update({f"sv{k + 1}": float(sv[k]) for k in range(min(N_SV, d))})
    return out


def tabulate(inst: dict, base: dict | None, shards: list[dict]) -> pd.DataFrame:
    """One row per (instance, observation count, method, depth, α), and one per (instance,
    count) for the nuclear-norm baseline (method ``nuclear``, depth and α empty): test error
    over all entries (relative Frobenius and MSE), effective rank, leading singular values,
    steps, final loss, status and wall time; ``lr`` (gd: the fraction of 1/κ; rmsprop: η) and
    rmsprop's ``rms_beta``, ``rms_eps``. Rows of the same instance and count are paired."""
    task = str(inst["task"])
    count, d = inst["W_star"].shape[:2]
    obs = inst["observations"]
    rank = int(np.linalg.matrix_rank(inst["W_star"][0]))
    rows = []

    def common(i, j):
        return {
            "task": task,
            "instance": i,
            "instance_seed": f"{inst['seeds'][i][0]}:{inst['seeds'][i][1]}",
            "d": d,
            "rank": rank,
            "observations": int(obs[j]),
        }

    if base is not None:
        for i in range(count):
            for j in range(len(obs)):
                row = common(i, j)
                row.update(method="nuclear", depth=math.nan, alpha=math.nan, lr=math.nan)
                row.update(rms_beta=math.nan, rms_eps=math.nan)
                row.update(_row_metrics(base["W_nuc"][i, j], inst["W_star"][i], d))
                row.update(
                    steps=0,
                    final_loss=math.nan,
                    status="converged" if base["status"][i, j] == 0 else "failed",
                    device="cpu",
                    wall_time_s=float(base["solve_time_s"][i, j]),
                    solver=f"SCS eps={float(base['eps']):g}",
                )
                rows.append(row)
    for sh in shards:
        alphas, method = sh["alphas"], str(sh["method"])
        cells = sh["W"].shape[1]
        per_trial = float(sh["wall_time_s"]) / (count * cells)
        for i in range(count):
            for c in range(cells):
                j, a = divmod(c, len(alphas))
                diverged = sh["status"][i, c] == STATUS.index("diverged")
                W = np.full((d, d), np.nan) if diverged else sh["W"][i, c]
                row = common(i, j)
                row.update(method=method, depth=int(sh["depth"]), alpha=float(alphas[a]), lr=float(sh["lr"]))
                row.update({f"rms_{k}": float(sh[k]) if method == "rmsprop" else math.nan for k in ("beta", "eps")})
                row.update(_row_metrics(W, inst["W_star"][i], d))
                row.update(
                    steps=int(sh["steps"][i, c]),
                    final_loss=float(sh["loss"][i, c]),
                    status=STATUS[int(sh["status"][i, c])],
                    device=str(sh["device"]),
                    wall_time_s=per_trial,
                    solver="",
                )
                rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- LR2: dynamics
def spectrum_instance(d: int, decay: float, seed: int) -> dict:
    """A fully observed target with a geometric spectrum: W* = U diag(decay^k) Vᵀ (Haar U, V),
    ‖W*‖_F = d; all d² entries observed (a completion instance with m = d², full rank)."""
    rng = np.random.default_rng([seed, 0])
    U = np.linalg.qr(rng.standard_normal((d, d)))[0]
    V = np.linalg.qr(rng.standard_normal((d, d)))[0]
    s = decay ** np.arange(d)
    W = (U * s) @ V.T
    return {
        "task": np.array("completion"),
        "W_star": (W * (d / np.linalg.norm(W)))[None],
        "order": rng.permutation(d * d)[None],
        "A": np.empty((1, 0, d * d)),
        "observations": np.array([d * d]),
        "seeds": np.array([[seed, 0]]),
    }


def best_rank_k(W: np.ndarray, kmax: int) -> list[np.ndarray]:
    """Best rank-k approximations (Eckart–Young) W_0 = 0, W_1, …, W_kmax."""
    U, S, Vh = np.linalg.svd(W)
    return [(U[:, :k] * S[:k]) @ Vh[:k] for k in range(kmax + 1)]


def dynamics(
    inst: dict,
    setting: str,
    depth: int,
    alpha: float,
    lr: float,
    stop: StopRule,
    every: int,
    device: torch.device,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    kmax: int = 5,
) -> pd.DataFrame:
    """Train one cell (instance 0, first observation count) and record the product every
    ``every`` steps: test error, effective rank, leading singular values and the relative
    distance ‖W(t) − W*_k‖_F / ‖W*‖_F to each best rank-k approximation of the target."""
    sub = {k: (v[:1] if k in ("W_star", "order", "A", "seeds") else v) for k, v in inst.items()}
    sub["observations"] = inst["observations"][:1]
    trace: list = []
    res = train(sub, depth, [alpha], stop, lr, device, dtype, seed=seed, progress=False, trace=trace, trace_every=every)
    W_star = sub["W_star"][0]
    d = W_star.shape[0]
    targets = best_rank_k(W_star, kmax)
    norm = np.linalg.norm(W_star)
    eta = float(step_sizes(sub, depth, lr)[0, 0])
    init = product(initial_state(sub, depth, [alpha], lr, seed, torch.device("cpu"), dtype), depth)[0, 0]
    rank = int(np.linalg.matrix_rank(W_star))
    rows = []
    points = [(0, init)] + [(t, W[0, 0]) for t, _, W in trace]
    for t, W in points:
        sv = np.linalg.svd(W, compute_uv=False)
        row = {
            "setting": setting,
            "d": d,
            "observations": int(sub["observations"][0]),
            "rank": rank,
            "depth": depth,
            "alpha": alpha,
            "step": t,
            "tau": depth * eta * t,
            "rel_error": float(rel_error(W, W_star)),
            "effective_rank": float(effective_rank(sv)),
        }
        row.update({f"sv{k + 1}": float(sv[k]) for k in range(min(N_SV, d))})
        row.update({f"dist_rank{k}": float(np.linalg.norm(W - T) / norm) for k, T in enumerate(targets)})
        rows.append(row)
    out = pd.DataFrame(rows)
    out["final_status"] = STATUS[int(res.status[0, 0])]
    out["final_steps"] = int(res.steps[0, 0])
    out["wall_time_s"] = res.elapsed_s
    out["device"] = device_label(device)
    return out


# --------------------------------------------------------------------------- LR3: the flows
def completion_problem(inst: dict, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W*, mask, observed targets) of instance i at the j-th observation count."""
    mask = masks(inst)[i, j]
    return inst["W_star"][i], mask, inst["W_star"][i] * mask


def integrate_flow(
    W0: np.ndarray,
    Y: np.ndarray,
    mask: np.ndarray,
    depth: float,
    tol_loss: float,
    tau_max: float,
    rtol: float = 1e-8,
    dense: bool = False,
):
    """Integrate the end-to-end flow dW/dτ = V_N(W) of the completion loss
    L(W) = (1/2m) Σ_Ω (W − W*)², from W0 until L ≤ tol_loss (or τ_max), by SciPy's adaptive
    implicit BDF integrator (relative tolerance ``rtol``, absolute rtol·10⁻³): the flow is
    stiff (large singular values move fast, small ones slowly), so an explicit Runge–Kutta
    method would need steps at the fast scale across the long slow plateaus. Returns SciPy's
    solution object."""
    from scipy.integrate import solve_ivp

    d = W0.shape[0]
    inv_m = 1.0 / mask.sum()
    Yt, Mt = torch.from_numpy(Y), torch.from_numpy(mask)

    def rhs(_tau, w):
        # vectorized: columns of w are states (SciPy's finite-difference Jacobian asks for many)
        W = torch.from_numpy(np.ascontiguousarray(w.T)).reshape(-1, d, d)
        return end_to_end_velocity(W, (W - Yt) * Mt * inv_m, depth).reshape(-1, d * d).numpy().T

    def converged(_tau, w):
        R = (w.reshape(d, d) - Y) * mask
        return 0.5 * float((R * R).sum()) * inv_m - tol_loss

    converged.terminal = True
    return solve_ivp(
        rhs,
        (0.0, tau_max),
        W0.ravel().copy(),
        method="BDF",
        rtol=rtol,
        atol=rtol * 1e-3,
        events=converged,
        dense_output=dense,
        vectorized=True,
    )


def flow_depths(
    inst: dict, depths: list[float], alpha: float, tol_loss: float, tau_max: float, seed: int, rtol: float = 1e-8
) -> pd.DataFrame:
    """The end-to-end flow of every depth (math.inf included) on every instance and count,
    from the same start W0 = α G/√d: test error, effective rank and the flow time to
    converge. Rows of the same instance and count share W0 (paired)."""
    count, d = inst["W_star"].shape[:2]
    rows = []
    for i in range(count):
        W0 = np.random.default_rng([seed, i, 999]).standard_normal((d, d)) * alpha / math.sqrt(d)
        for j, m in enumerate(inst["observations"]):
            W_star, mask, Y = completion_problem(inst, i, j)
            for N in depths:
                t0 = time.perf_counter()
                sol = integrate_flow(W0, Y, mask, N, tol_loss, tau_max, rtol)
                W = sol.y[:, -1].reshape(d, d)
                sv = np.linalg.svd(W, compute_uv=False)
                R = (W - Y) * mask
                rows.append(
                    {
                        "instance": i,
                        "d": d,
                        "observations": int(m),
                        "depth": float(N),
                        "alpha": alpha,
                        "rel_error": float(rel_error(W, W_star)),
                        "unobserved_rel_error": float(
                            np.linalg.norm((W - W_star) * (1 - mask)) / np.linalg.norm(W_star * (1 - mask))
                        ),
                        "effective_rank": float(effective_rank(sv)),
                        "final_loss": 0.5 * float((R * R).sum()) / m,
                        "tau": float(sol.t[-1]),
                        "rhs_evals": int(sol.nfev),
                        "status": "converged" if sol.status == 1 else ("max_tau" if sol.status == 0 else "failed"),
                        "wall_time_s": time.perf_counter() - t0,
                        **{f"sv{k + 1}": float(sv[k]) for k in range(min(N_SV, d))},
                    }
                )
    return pd.DataFrame(rows)


def gd_vs_flow(
    inst: dict,
    depths: list[int],
    alpha: float,
    lrs: list[float],
    tol_loss: float,
    tau_max: float,
    points: int,
    device: torch.device,
    seed: int,
) -> pd.DataFrame:
    """Factorized GD from balanced factors of W0 = α G/√d against the end-to-end flow from W0:
    max over the path (``points`` times, τ = N η k) of ‖W_GD − W_flow(τ)‖_F / ‖W*‖_F, per
    depth and step size (instance 0, first observation count). GD is an Euler discretization
    of the factors' flow, so the gap should shrink in proportion to the step."""
    d = inst["W_star"].shape[1]
    sub = {k: (v[:1] if k in ("W_star", "order", "A", "seeds") else v) for k, v in inst.items()}
    sub["observations"] = inst["observations"][:1]
    W_star, mask, Y = completion_problem(sub, 0, 0)
    W0 = np.random.default_rng([seed, 0, 999]).standard_normal((d, d)) * alpha / math.sqrt(d)
    rows = []
    for N in depths:
        flow = integrate_flow(W0, Y, mask, N, tol_loss, tau_max, rtol=1e-9, dense=True)
        tau_end = float(flow.t[-1])
        fs = np.stack(balanced_factors(W0, N, np.random.default_rng([seed, N, 998])))[:, None, None]
        for lr in lrs:
            eta = float(step_sizes(sub, N, lr)[0, 0])
            steps = max(1, math.ceil(tau_end / (N * eta)))
            every = max(1, steps // points)
            trace: list = []
            stop = fixed_steps(steps)
            t0 = time.perf_counter()
            train(
                sub, N, [alpha], stop, lr, device, seed=seed, progress=False, factors=fs, trace=trace, trace_every=every
            )
            gap = max(
                np.linalg.norm(W[0, 0] - flow.sol(min(N * eta * k, tau_end)).reshape(d, d)) for k, _, W in trace
            ) / np.linalg.norm(W_star)
            rows.append(
                {
                    "depth": N,
                    "d": d,
                    "observations": int(sub["observations"][0]),
                    "alpha": alpha,
                    "lr": lr,
                    "eta": eta,
                    "steps": steps,
                    "tau_end": tau_end,
                    "max_gap": float(gap),
                    "wall_time_s": time.perf_counter() - t0,
                    "device": device_label(device),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- jobs
#: Offsets of the root seed per experiment, so that no two experiments share instances.
SEED_OFFSET = {"completion": 0, "sensing": 1, "dynamics": 2, "flow": 3}


def run_dynamics(cfg: dict, seed: int, device: torch.device) -> list[pd.DataFrame]:
    """LR2: traces of every depth on (a) an under-sampled low-rank completion instance and
    (b) a fully observed target with a geometric spectrum (best rank-k approximations)."""
    s = seed + SEED_OFFSET["dynamics"]
    settings = {
        "completion": make_instances("completion", cfg["d"], cfg["rank"], [cfg["observations"]], 1, s),
        "spectrum": spectrum_instance(cfg["d"], cfg["decay"], s),
    }
    stop = StopRule(cfg["max_steps"], cfg["tol_loss"], 0.0, cfg["every"])
    return [
        dynamics(inst, name, depth, cfg["alpha"], cfg["lr"], stop, cfg["every"], device, seed=s, kmax=cfg["kmax"])
        for name, inst in settings.items()
        for depth in cfg["depths"]
    ]


def run_flow(part: str, cfg: dict, seed: int, device: torch.device) -> pd.DataFrame:
    """LR3: ``depths`` (the flow's outcome per depth, N = ∞ included when cfg['infinite']) or
    ``gd`` (factorized GD against the flow, per depth and step)."""
    s = seed + SEED_OFFSET["flow"]
    inst = make_instances("completion", cfg["d"], cfg["rank"], cfg["observations"], cfg["instances"], s)
    if part == "depths":
        depths = [float(n) for n in cfg["depths"]] + ([math.inf] if cfg["infinite"] else [])
        return flow_depths(inst, depths, cfg["alpha"], cfg["tol_loss"], cfg["tau_max"], s, cfg["rtol"])
    if part == "gd":
        return gd_vs_flow(
            inst,
            cfg["gd_depths"],
            cfg["alpha"],
            cfg["gd_lrs"],
            cfg["tol_loss"],
            cfg["tau_max"],
            cfg["points"],
            device,
            s,
        )
    raise IlocoError(f"lr-flow: part {part!r} is not one of depths, gd")
