"""LR problem instances (low-rank ground truths, completion masks, sensing operators), their
metrics, and the nuclear-norm baseline (cvxpy, SCS)."""

from __future__ import annotations

import time

import numpy as np

from iloco.core.errors import IlocoError
from iloco.lr.spec import TASKS

#: Decay β and ε of the normalized RMSprop step (Arora et al.'s GroupRMSprop with their β = 0.99
#: and ε = 1e-4 on the loss (1/m) Σ r² = 2L, which is ε = 5e-5 on our L; see :func:`make_step`).
RMSPROP_BETA, RMSPROP_EPS = 0.99, 5e-5


INSTANCE_KEYS = ("task", "W_star", "order", "A", "observations", "seeds")


BASELINE_KEYS = ("W_nuc", "status", "solve_time_s", "solver", "eps")


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


def first_instances(inst: dict, count: int | None) -> dict:
    """The first ``count`` instances (all when None): each instance is drawn from its own seed
    pair, and so are its initial factors (``model.init_factors``), so a run on the subset is
    the same run as on the whole set."""
    if count is None:
        return inst
    return {k: (v[:count] if k in ("W_star", "order", "A", "seeds") else v) for k, v in inst.items()}


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
