"""SP family: diagonal linear networks and sparse recovery.

A diagonal linear network of depth L parameterizes x = u^{⊙L} − v^{⊙L}. Gradient descent on
½‖Ax − y‖² from u = v = α·1 interpolates between the minimum-ℓ1 solution (basis pursuit, as
α → 0) and the minimum-ℓ2 interpolant (as α → ∞) (Woodworth et al., COLT 2020; Chou, Maly,
Rauhut, ACHA 2023 for depth L > 2). This module generates the instances, trains the networks
through the shared engine, solves the convex baselines and tabulates the comparison.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.optimize import linprog

from iloco.engine import STATUS, Checkpoint, RunResult, StopRule, device_label, run_batched
from iloco.errors import IlocoError

INSTANCE_KEYS = ("A", "x_star", "y", "seeds")
BASELINE_KEYS = ("x_bp", "x_l2", "bp_status")
TRAIN_KEYS = ("x", "alphas", "steps", "loss", "status", "wall_time_s", "device", "depth")


# --------------------------------------------------------------------------- instances
def make_instances(n: int, m: int, k: int, count: int, seed: int, nonzeros: str = "gaussian") -> dict:
    """Draw ``count`` underdetermined sensing problems y = A x* with k-sparse x*.

    A has i.i.d. N(0, 1/m) entries (columns of unit norm in expectation); the support of x*
    is uniform; its non-zeros are N(0, 1) (``gaussian``) or ±1 (``sign``). Instance i uses
    the seed sequence (seed, i), so an instance does not change when ``count`` grows.
    """
    if not 0 < m < n:
        raise IlocoError(f"sp: need 0 < m < n for an underdetermined system, got m={m}, n={n}")
    if not 0 < k <= m:
        raise IlocoError(f"sp: need 0 < k <= m, got k={k}, m={m}")
    A = np.empty((count, m, n))
    x_star = np.zeros((count, n))
    seeds = np.array([[seed, i] for i in range(count)], dtype=np.int64)
    for i in range(count):
        rng = np.random.default_rng([seed, i])
        A[i] = rng.standard_normal((m, n)) / np.sqrt(m)
        support = rng.choice(n, size=k, replace=False)
        if nonzeros == "gaussian":
            x_star[i, support] = rng.standard_normal(k)
        elif nonzeros == "sign":
            x_star[i, support] = rng.choice([-1.0, 1.0], size=k)
        else:
            raise IlocoError(f"sp: nonzeros {nonzeros!r} is not one of gaussian, sign")
    y = np.einsum("imn,in->im", A, x_star)
    return {"A": A, "x_star": x_star, "y": y, "seeds": seeds}


# --------------------------------------------------------------------------- baselines
def basis_pursuit(A: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
    """min ‖x‖₁ s.t. Ax = y, as the LP min 1ᵀ(p+q) s.t. A(p−q) = y, p, q ≥ 0, by HiGHS.

    Returns the solution and SciPy's status code (0 = optimal).
    """
    m, n = A.shape
    res = linprog(
        c=np.ones(2 * n),
        A_eq=np.hstack([A, -A]),
        b_eq=y,
        bounds=(0, None),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.x is None:
        return np.full(n, np.nan), int(res.status)
    return res.x[:n] - res.x[n:], int(res.status)


def min_l2(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The minimum-ℓ2 interpolant A⁺y."""
    return np.linalg.lstsq(A, y, rcond=None)[0]


def solve_baselines(inst: dict) -> dict:
    """Basis pursuit and minimum-ℓ2 solutions of every instance."""
    A, y = inst["A"], inst["y"]
    bp = [basis_pursuit(A[i], y[i]) for i in range(len(A))]
    return {
        "x_bp": np.stack([b[0] for b in bp]),
        "bp_status": np.array([b[1] for b in bp]),
        "x_l2": np.stack([min_l2(A[i], y[i]) for i in range(len(A))]),
    }


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
    A = torch.as_tensor(inst["A"], dtype=dtype, device=device)
    y = torch.as_tensor(inst["y"], dtype=dtype, device=device).unsqueeze(2)
    count, _, n = A.shape
    a = torch.as_tensor(alphas, dtype=dtype, device=device)
    u0 = a.expand(count, n, len(alphas)).clone()
    state = {
        "A": A,
        "y": y,
        "ynorm2": 0.5 * (y * y).sum(dim=1),
        "s2": torch.linalg.matrix_norm(A, ord=2).pow(2).unsqueeze(1),
        "u": u0,
        "v": u0.clone(),
    }
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


# --------------------------------------------------------------------------- table
def rel_dist(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """‖x − ref‖₂ / ‖ref‖₂ along the last axis."""
    return np.linalg.norm(x - ref, axis=-1) / np.linalg.norm(ref, axis=-1)


def tabulate(inst: dict, base: dict, shards: dict[int, dict]) -> pd.DataFrame:
    """One row per (instance, depth, α): distances of the GD limit to x*, BP and min-ℓ2.

    A diverged cell keeps its row (status ``diverged``) with NaN for its distances.
    """
    rows = []
    count, m, n = inst["A"].shape
    k = int((inst["x_star"][0] != 0).sum())
    for depth, sh in sorted(shards.items()):
        x = np.where((sh["status"] == STATUS.index("diverged"))[..., None], np.nan, sh["x"])
        trials = x.shape[0] * x.shape[1]
        for i in range(count):
            for j, alpha in enumerate(sh["alphas"]):
                rows.append(
                    {
                        "instance": i,
                        "instance_seed": f"{inst['seeds'][i][0]}:{inst['seeds'][i][1]}",
                        "n": n,
                        "m": m,
                        "k": k,
                        "depth": depth,
                        "alpha": float(alpha),
                        "dist_xstar": float(rel_dist(x[i, j], inst["x_star"][i])),
                        "dist_bp": float(rel_dist(x[i, j], base["x_bp"][i])),
                        "dist_l2": float(rel_dist(x[i, j], base["x_l2"][i])),
                        "l1_ratio": float(np.abs(x[i, j]).sum() / np.abs(base["x_bp"][i]).sum()),
                        "bp_dist_xstar": float(rel_dist(base["x_bp"][i], inst["x_star"][i])),
                        "l2_dist_xstar": float(rel_dist(base["x_l2"][i], inst["x_star"][i])),
                        "bp_exact": bool(rel_dist(base["x_bp"][i], inst["x_star"][i]) < 1e-6),
                        "steps": int(sh["steps"][i, j]),
                        "final_loss": float(sh["loss"][i, j]),
                        "status": STATUS[int(sh["status"][i, j])],
                        "device": str(sh["device"]),
                        "wall_time_s": float(sh["wall_time_s"]) / trials,
                    }
                )
    return pd.DataFrame(rows)
