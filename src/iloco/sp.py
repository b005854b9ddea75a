"""SP family: diagonal linear networks and sparse recovery.

A diagonal linear network of depth L parameterizes x = u^{⊙L} − v^{⊙L}. Gradient descent on
½‖Ax − y‖² from u = v = α·1 interpolates between the minimum-ℓ1 solution (basis pursuit, as
α → 0) and the minimum-ℓ2 interpolant (as α → ∞) (Woodworth et al., COLT 2020; Chou, Maly,
Rauhut, ACHA 2023 for depth L > 2). This module generates the instances, trains the networks
through the shared engine, solves the convex baselines and tabulates the comparison.
"""

from __future__ import annotations

import functools
import time
import warnings

import numpy as np
import pandas as pd
import torch
from scipy.optimize import linprog

from iloco.engine import STATUS, Checkpoint, RunResult, StopRule, device_label, run_batched, run_segments
from iloco.errors import IlocoError

INSTANCE_KEYS = ("A", "x_star", "y", "seeds")
BASELINE_KEYS = ("x_bp", "x_l2", "bp_status")
TRAIN_KEYS = ("x", "alphas", "steps", "loss", "status", "wall_time_s", "device", "depth")
POTENTIAL_KEYS = ("x", "alphas", "status", "residual_cvxpy", "residual", "newton_steps", "wall_time_s", "depth")


# --------------------------------------------------------------------------- instances
def draw_problem(rng: np.random.Generator, m: int, n: int, k: int, nonzeros: str) -> tuple[np.ndarray, np.ndarray]:
    """One sensing problem from ``rng``: A (m × n) with N(0, 1/m) entries, then a k-sparse x*
    with a uniform support and N(0, 1) (``gaussian``) or ±1 (``sign``) non-zeros."""
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    x = np.zeros(n)
    support = rng.choice(n, size=k, replace=False)
    if nonzeros == "gaussian":
        x[support] = rng.standard_normal(k)
    elif nonzeros == "sign":
        x[support] = rng.choice([-1.0, 1.0], size=k)
    else:
        raise IlocoError(f"sp: nonzeros {nonzeros!r} is not one of gaussian, sign")
    return A, x


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
        A[i], x_star[i] = draw_problem(np.random.default_rng([seed, i]), m, n, k, nonzeros)
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


# --------------------------------------------------------------------------- table
def rel_dist(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """‖x − ref‖₂ / ‖ref‖₂ along the last axis."""
    return np.linalg.norm(x - ref, axis=-1) / np.linalg.norm(ref, axis=-1)


def tabulate(
    inst: dict, base: dict, shards: dict[int, dict], potentials: dict[int, dict] | None = None
) -> pd.DataFrame:
    """One row per (instance, depth, α): distances of the GD limit to x*, BP and min-ℓ2, and,
    where ``potentials`` has the depth, to the minimizer x_Q of the exact implicit regularizer
    Q_α (``dist_q``), with x_Q's own distances to BP and x* (``q_dist_bp``, ``q_dist_xstar``).

    A diverged cell keeps its row (status ``diverged``) with NaN for its distances.
    """
    potentials = potentials or {}
    rows = []
    count, m, n = inst["A"].shape
    k = int((inst["x_star"][0] != 0).sum())
    for depth, sh in sorted(shards.items()):
        x = np.where((sh["status"] == STATUS.index("diverged"))[..., None], np.nan, sh["x"])
        trials = x.shape[0] * x.shape[1]
        pot = potentials.get(depth)
        if pot is not None and not np.array_equal(pot["alphas"], sh["alphas"]):
            raise IlocoError(
                f"sp1: the Q_alpha solutions of depth {depth} are for other alphas than its training shard"
            )
        for i in range(count):
            for j, alpha in enumerate(sh["alphas"]):
                if pot is not None:
                    xq = pot["x"][i, j]
                    q = {
                        "dist_q": float(rel_dist(x[i, j], xq)),
                        "q_dist_bp": float(rel_dist(xq, base["x_bp"][i])),
                        "q_dist_l2": float(rel_dist(xq, base["x_l2"][i])),
                        "q_dist_xstar": float(rel_dist(xq, inst["x_star"][i])),
                        "q_status": str(pot["status"][i, j]),
                        "q_residual": float(pot["residual"][i, j]),
                    }
                else:
                    q = dict.fromkeys(("dist_q", "q_dist_bp", "q_dist_l2", "q_dist_xstar", "q_residual"), np.nan)
                    q["q_status"] = "none"
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
                        **q,
                    }
                )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- SP1: the exact implicit regularizer
def potential_map(w: np.ndarray, alpha: float, depth: int) -> np.ndarray:
    """x(w) of the gradient-flow limit, x = α^L h_L(w) with w = Aᵀν, for our model
    x = u^L − v^L from u = v = α (the inverse of the potential's derivative, ∇Q_α⁻¹).

    Depth 2: u(t) = α e^{−2s}, v(t) = α e^{2s} with s = ∫ Aᵀr, so x = α²(e^{w} − e^{−w}) =
    2α² sinh(w) (w = −4s). Depth L > 2: u^{2−L} = α^{2−L} + L(L−2)s gives x = α^L h_L(w) with
    h_L(w) = (1 − w)^{−L/(L−2)} − (1 + w)^{−L/(L−2)}, |w| < 1 (w = −L(L−2)α^{L−2}s).
    """
    if depth == 2:
        return 2 * alpha**2 * np.sinh(w)
    p = depth / (depth - 2)
    return alpha**depth * ((1 - w) ** (-p) - (1 + w) ** (-p))


def _potential_dmap(w: np.ndarray, alpha: float, depth: int) -> np.ndarray:
    if depth == 2:
        return 2 * alpha**2 * np.cosh(w)
    p = depth / (depth - 2)
    return alpha**depth * p * ((1 - w) ** (-p - 1) + (1 + w) ** (-p - 1))


def _potential_conj(w: np.ndarray, alpha: float, depth: int) -> np.ndarray:
    """ψ(w) − ψ(0) with ψ' = potential_map: the convex conjugate of the potential, written
    without cancellation (expm1, log1p) so that differences of it stay accurate near w = 0."""
    if depth == 2:
        return 4 * alpha**2 * np.sinh(w / 2) ** 2
    p = depth / (depth - 2)
    return alpha**depth / (p - 1) * (np.expm1((1 - p) * np.log1p(-w)) + np.expm1((1 - p) * np.log1p(w)))


def potential(x: np.ndarray, alpha: float, depth: int) -> np.ndarray:
    """Q_α(x) = Σ_i φ(x_i), the implicit regularizer of gradient flow (Woodworth et al. 2020).

    Depth 2, in our scaling (x = u² − v², u = v = α): u_i v_i = α² is conserved, x = 2α² sinh(w),
    so φ' = arcsinh(x / 2α²) and Q_α(x) = α² Σ q(x_i/α²), q(z) = 2 − √(4 + z²) + z arcsinh(z/2):
    exactly the Q_α of Woodworth et al. (their depth-2 result uses the same u = v = α·1
    initialization; the loss scale changes time, not the limit). As α → 0,
    Q_α(x)/log(1/α²) → ‖x‖₁ (q(z) ≈ |z| log|z|); as α → ∞, 4α² Q_α(x) → ‖x‖₂² (q(z) ≈ z²/4).

    Depth L > 2 (their depth-D potential, same scaling): Q_α(x) = α^L Σ q_L(x_i/α^L) with
    q_L = ∫₀ h_L⁻¹ (h_L of ``potential_map``). It has no closed form; it is evaluated as the
    conjugate of ψ (``_potential_conj``), sup_w x w − ψ(w), by a 1-d Newton solve of h_L(w) = x/α^L.
    """
    x = np.asarray(x, dtype=float)
    if depth == 2:
        z = x / alpha**2
        return alpha**2 * np.sum(2 - np.sqrt(4 + z * z) + z * np.arcsinh(z / 2))
    # Q = sup_w x w − ψ(w) + ψ(0): the conjugate of ψ, by a 1-d Newton solve of h_L(w) = x/α^L
    w = np.zeros_like(x)
    for _ in range(200):
        f = potential_map(w, alpha, depth) - x
        w_new = np.clip(w - f / _potential_dmap(w, alpha, depth), -1 + 1e-15, 1 - 1e-15)
        if np.max(np.abs(w_new - w)) < 1e-15:
            break
        w = w_new
    return float(np.sum(x * w - _potential_conj(w, alpha, depth)))


@functools.cache
def _potential_program(m: int, n: int, depth: int):
    """The dual program of ``solve_potential`` with A, y and α^L as cvxpy parameters (DPP), so
    that it is compiled once per shape and depth and re-solved for every instance and α."""
    import cvxpy as cp

    # the objective divided by α^L: max (y/α^L)ᵀν − Σ ψ(Aᵀν)/α^L, so α enters through y alone
    At, ys = cp.Parameter((n, m)), cp.Parameter(m)
    nu = cp.Variable(m)
    w = At @ nu
    if depth == 2:  # ψ(w)/α² = 2 cosh(w)
        conj = cp.sum(cp.exp(w) + cp.exp(-w))
    else:  # ψ(w)/α^L = [(1 − w)^{1−p} + (1 + w)^{1−p}]/(p − 1), p = L/(L − 2)
        p = depth / (depth - 2)
        conj = cp.sum(cp.power(1 - w, 1 - p) + cp.power(1 + w, 1 - p)) / (p - 1)
    prob = cp.Problem(cp.Maximize(ys @ nu - conj))
    return prob, {"At": At, "y": ys}, nu


#: Clarabel's tolerances for the Q_alpha programs (before Newton refinement).
POTENTIAL_TOL = 1e-12
#: Numerical support: entries above this fraction of the largest.
SUPPORT_REL = 1e-2


@np.errstate(over="ignore", invalid="ignore")  # line-search candidates may overflow; they are rejected
def solve_potential(A: np.ndarray, y: np.ndarray, alpha: float, depth: int, tol: float = POTENTIAL_TOL) -> dict:
    """min Q_α(x) s.t. Ax = y, the limit of gradient flow predicted by Woodworth et al. (2020).

    Solved through its dual max_ν yᵀν − Σ ψ((Aᵀν)_i) (ψ the conjugate of the potential:
    2α² cosh for depth 2, an exponential-cone program; α^L/(p−1)[(1−w)^{1−p} + (1+w)^{1−p}],
    p = L/(L−2), for depth L > 2, a power-cone program) with cvxpy and Clarabel (interior
    point; tolerances ``tol``), and x = α^L h_L(Aᵀν) recovered from the KKT condition. The
    interior-point solution is then refined by damped Newton steps on the same (smooth,
    strictly concave) dual until ‖Ax − y‖ ≤ 1e-11 ‖y‖: at small α the map ν → x is so steep
    (x ~ α² e^{|w|}) that the interior-point accuracy alone leaves residuals up to 10 %.
    Returns x, cvxpy's status, the residual before and after refinement and Newton steps.
    """
    import cvxpy as cp

    m, n = A.shape
    prob, par, nu = _potential_program(m, n, depth)
    par["At"].value, par["y"].value = A.T, y / alpha**depth
    try:
        with warnings.catch_warnings():  # "inaccurate" is recorded in the status and then refined
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver="CLARABEL", tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol)
        status = str(prob.status)
    except cp.error.SolverError:
        status = "solver_error"
    lam = np.zeros(m) if nu.value is None else np.asarray(nu.value, dtype=float)
    if depth > 2:  # keep |Aᵀν| < 1, the domain of the depth-L conjugate
        wmax = np.abs(A.T @ lam).max()
        if wmax >= 1:
            lam *= (1 - 1e-9) / wmax
    x = potential_map(A.T @ lam, alpha, depth)
    ynorm = np.linalg.norm(y)
    res0 = np.linalg.norm(A @ x - y) / ynorm

    def dual(lam):
        return y @ lam - np.sum(_potential_conj(A.T @ lam, alpha, depth))

    newton = 0
    res = res0
    while res > 1e-11 and newton < 50:
        wv = A.T @ lam
        grad = y - A @ potential_map(wv, alpha, depth)
        hess = (A * _potential_dmap(wv, alpha, depth)) @ A.T
        try:
            d = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            d = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t, f0, g0 = 1.0, dual(lam), np.linalg.norm(grad)
        while t > 1e-12:
            cand = lam + t * d
            if depth == 2 or np.abs(A.T @ cand).max() < 1:
                fc = dual(cand)
                gc = np.linalg.norm(y - A @ potential_map(A.T @ cand, alpha, depth))
                # Armijo on the dual, or (where roundoff hides the dual's increase) a smaller gradient
                if np.isfinite(fc) and (fc >= f0 + 1e-4 * t * (grad @ d) or gc <= (1 - 1e-4 * t) * g0):
                    break
            t /= 2
        if t <= 1e-12:
            break
        lam = cand
        newton += 1
        x = potential_map(A.T @ lam, alpha, depth)
        res = np.linalg.norm(A @ x - y) / ynorm
    return {"x": x, "status": status, "residual_cvxpy": res0, "residual": res, "newton_steps": newton}


def solve_potentials(inst: dict, depth: int, alphas: list[float]) -> dict:
    """``solve_potential`` for every instance × α; arrays for an ``.npz`` file."""
    A, y = inst["A"], inst["y"]
    count, _, n = A.shape
    x = np.empty((count, len(alphas), n))
    status = np.empty((count, len(alphas)), dtype="U24")
    res0, res, steps, wall = (np.empty((count, len(alphas))) for _ in range(4))
    for i in range(count):
        for j, a in enumerate(alphas):
            t0 = time.perf_counter()
            sol = solve_potential(A[i], y[i], a, depth)
            wall[i, j] = time.perf_counter() - t0
            x[i, j], status[i, j] = sol["x"], sol["status"]
            res0[i, j], res[i, j], steps[i, j] = sol["residual_cvxpy"], sol["residual"], sol["newton_steps"]
    return {
        "x": x,
        "alphas": np.asarray(alphas, dtype=float),
        "status": status,
        "residual_cvxpy": res0,
        "residual": res,
        "newton_steps": steps,
        "wall_time_s": wall,
        "depth": np.array(depth),
    }


# --------------------------------------------------------------------------- SP2: phase transitions
GRID_KEYS = ("A", "x_star", "y", "m", "k", "delta", "rho", "cell", "trial", "seeds")
GRID_BP_KEYS = ("x_bp", "bp_status", "lp_time_s")
GRID_POTENTIAL_KEYS = ("x", "status", "residual", "wall_time_s", "alpha", "depth")


def make_grid_instances(
    n: int, deltas: list[float], rhos: list[float], trials: int, seed: int, nonzeros: str = "gaussian"
) -> dict:
    """``trials`` instances per cell (δ, ρ) of the phase-transition grid, as one padded batch.

    Row r = (cell, trial) has m = round(δn) Gaussian N(0, 1/m) measurements of a
    k = round(ρm)-sparse x*; A and y are padded with zero rows up to the grid's largest m, which
    changes neither the loss nor its gradient, so every row trains in one tensor. Row seeds are
    (seed, 2, cell, trial): SP2's stream, distinct from SP1's (seed, i).
    """
    from iloco import spgrid

    for name, values in (("delta", deltas), ("rho", rhos)):
        bad = [v for v in values if not 0 < v <= 1]
        if bad:
            raise IlocoError(f"sp2: {name} values must lie in (0, 1], got {bad[0]}")
    grid = spgrid.cells(n, deltas, rhos)
    m_max = max(c[2] for c in grid)
    rows = len(grid) * trials
    A = np.zeros((rows, m_max, n))
    x_star = np.zeros((rows, n))
    meta = {key: np.empty(rows, dtype=dt) for key, dt in (("m", int), ("k", int), ("delta", float), ("rho", float))}
    cell_idx, trial_idx = np.empty(rows, dtype=int), np.empty(rows, dtype=int)
    for c, (d, r, m, k) in enumerate(grid):
        for t in range(trials):
            row = c * trials + t
            A[row, :m], x_star[row] = draw_problem(np.random.default_rng([seed, 2, c, t]), m, n, k, nonzeros)
            meta["m"][row], meta["k"][row], meta["delta"][row], meta["rho"][row] = m, k, d, r
            cell_idx[row], trial_idx[row] = c, t
    y = np.einsum("imn,in->im", A, x_star)
    seeds = np.stack([np.full(rows, seed), np.full(rows, 2), cell_idx, trial_idx], axis=1)
    return {"A": A, "x_star": x_star, "y": y, **meta, "cell": cell_idx, "trial": trial_idx, "seeds": seeds}


def select_rows(inst: dict, rows) -> dict:
    """The sub-batch ``rows`` of a batch of instances (every array's leading dimension)."""
    idx = np.asarray(list(rows), dtype=int)
    return {k: v[idx] for k, v in inst.items()}


def solve_grid_bp(inst: dict) -> dict:
    """Basis pursuit (HiGHS LP) on every row of the grid, with the wall time of each solve."""
    rows, _, n = inst["A"].shape
    x = np.empty((rows, n))
    status = np.empty(rows, dtype=int)
    wall = np.empty(rows)
    for r in range(rows):
        m = int(inst["m"][r])
        t0 = time.perf_counter()
        x[r], status[r] = basis_pursuit(inst["A"][r, :m], inst["y"][r, :m])
        wall[r] = time.perf_counter() - t0
    return {"x_bp": x, "bp_status": status, "lp_time_s": wall}


def solve_grid_potential(inst: dict, depth: int, alpha: float) -> dict:
    """The minimizer of the exact regularizer Q_α (``solve_potential``) on every grid row: where
    gradient flow from α would land, so GD's transition can be split into what the implicit
    bias at this α gives and what the finite step budget takes away."""
    rows, _, n = inst["A"].shape
    x = np.empty((rows, n))
    status = np.empty(rows, dtype="U24")
    res, wall = np.empty(rows), np.empty(rows)
    for r in range(rows):
        m = int(inst["m"][r])
        t0 = time.perf_counter()
        sol = solve_potential(inst["A"][r, :m], inst["y"][r, :m], alpha, depth)
        wall[r] = time.perf_counter() - t0
        x[r], status[r], res[r] = sol["x"], sol["status"], sol["residual"]
    return {
        "x": x,
        "status": status,
        "residual": res,
        "wall_time_s": wall,
        "alpha": np.array(alpha),
        "depth": np.array(depth),
    }


def statistical_dimension_l1(s: float) -> float:
    """δ(D(‖·‖₁, x))/n for a k-sparse x in ℝⁿ with s = k/n, n → ∞ (Amelunxen, Lotz, McCoy and
    Tropp 2014, Prop. 4.5): ψ(s) = inf_{τ≥0} s(1 + τ²) + (1 − s)·2[(1 + τ²)Φᶜ(τ) − τφ(τ)].

    The infimum is at the root of sτ = 2(1 − s)(φ(τ) − τΦᶜ(τ)), found by Brent's method.
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    if s <= 0:
        return 0.0
    if s >= 1:
        return 1.0
    tau = brentq(lambda t: s * t - 2 * (1 - s) * (norm.pdf(t) - t * norm.sf(t)), 0.0, 60.0, xtol=1e-14)
    return s * (1 + tau**2) + 2 * (1 - s) * ((1 + tau**2) * norm.sf(tau) - tau * norm.pdf(tau))


def l1_transition(delta: float) -> float:
    """The theoretical ℓ1 phase transition in the convention ρ = k/m: the ρ at which
    m = δn equals the statistical dimension of the descent cone, ψ(ρδ) = δ (ALMT 2014; this
    curve is Donoho and Tanner's weak threshold: ρ ≈ 0.3857 at δ = 0.5)."""
    from scipy.optimize import brentq

    if not 0 < delta <= 1:
        raise IlocoError(f"sp2: delta must lie in (0, 1], got {delta}")
    if delta == 1:
        return 1.0
    s = brentq(lambda s: statistical_dimension_l1(s) - delta, 1e-14, delta, xtol=1e-15)
    return s / delta


def tabulate_grid(
    inst: dict, bp: dict, shards: dict[int, list[dict]], threshold: float, potentials: dict[int, dict] | None = None
) -> pd.DataFrame:
    """One row per (method, grid row): the relative error to x* and whether it is below ``threshold``.

    ``shards`` maps a depth to its training shards (each with its ``rows``); basis pursuit has
    depth 0. The wall time of a GD row is its shard's training time over its trials.
    ``potentials`` (depth → ``solve_grid_potential``) adds the minimizers of Q_α as method ``q<L>``.
    """
    rows_out = []
    base = {
        "delta": inst["delta"],
        "rho": inst["rho"],
        "n": np.full(len(inst["m"]), inst["A"].shape[2]),
        "m": inst["m"],
        "k": inst["k"],
        "cell": inst["cell"],
        "trial": inst["trial"],
    }
    seeds = [":".join(str(int(v)) for v in s) for s in inst["seeds"]]
    err = rel_dist(bp["x_bp"], inst["x_star"])
    frame = pd.DataFrame(base)
    frame["instance_seed"] = seeds
    bp_frame = frame.assign(
        method="bp",
        depth=0,
        alpha=np.nan,
        rel_err=err,
        success=err < threshold,
        steps=0,
        final_loss=np.nan,
        status=np.where(bp["bp_status"] == 0, "optimal", "failed"),
        wall_time_s=bp["lp_time_s"],
        device="cpu",
    )
    rows_out.append(bp_frame)
    for depth, pot in sorted((potentials or {}).items()):
        e = rel_dist(pot["x"], inst["x_star"])
        rows_out.append(
            frame.assign(
                method=f"q{depth}",
                depth=depth,
                alpha=float(pot["alpha"]),
                rel_err=e,
                success=e < threshold,
                steps=0,
                final_loss=np.nan,
                status=pot["status"],
                wall_time_s=pot["wall_time_s"],
                device="cpu",
            )
        )
    for depth, parts in sorted(shards.items()):
        for sh in parts:
            idx = np.asarray(sh["rows"], dtype=int)
            x = np.where((sh["status"] == STATUS.index("diverged"))[..., None], np.nan, sh["x"])[:, 0]
            e = rel_dist(x, inst["x_star"][idx])
            rows_out.append(
                frame.iloc[idx].assign(
                    method=f"gd{depth}",
                    depth=depth,
                    alpha=float(sh["alphas"][0]),
                    rel_err=e,
                    success=e < threshold,
                    steps=sh["steps"][:, 0],
                    final_loss=sh["loss"][:, 0],
                    status=[STATUS[int(s)] for s in sh["status"][:, 0]],
                    wall_time_s=float(sh["wall_time_s"]) / len(idx),
                    device=str(sh["device"]),
                )
            )
    return pd.concat(rows_out, ignore_index=True)


def transition_rho(rhos: np.ndarray, prob: np.ndarray, level: float = 0.5) -> float:
    """Where the success probability, decreasing in ρ, first falls below ``level``, by linear
    interpolation between grid points; the grid's ends when it never crosses (lowest ρ if it
    starts below, NaN if it never falls below)."""
    order = np.argsort(rhos)
    r, p = np.asarray(rhos, dtype=float)[order], np.asarray(prob, dtype=float)[order]
    if p[0] < level:
        return float(r[0])
    for i in range(1, len(r)):
        if p[i] < level:
            return float(r[i - 1] + (p[i - 1] - level) / (p[i - 1] - p[i]) * (r[i] - r[i - 1]))
    return float("nan")


def transitions(table: pd.DataFrame) -> pd.DataFrame:
    """Per method and δ: the empirical 50 % transition ρ₅₀ and the theoretical ℓ1 one."""
    out = []
    prob = table.groupby(["method", "delta", "rho"], as_index=False)["success"].mean()
    for (method, delta), g in prob.groupby(["method", "delta"]):
        out.append(
            {
                "method": method,
                "delta": delta,
                "rho50": transition_rho(g["rho"].to_numpy(), g["success"].to_numpy()),
                "rho_theory": l1_transition(float(delta)),
            }
        )
    return pd.DataFrame(out)


def l1_transition_curve(points: int = 99) -> pd.DataFrame:
    """The theoretical ℓ1 transition ρ(δ) on a fine δ grid, for drawing."""
    deltas = np.linspace(0.01, 0.99, points)
    return pd.DataFrame({"delta": deltas, "rho": [l1_transition(float(d)) for d in deltas]})


# --------------------------------------------------------------------------- SP3: SGD and noise
SGD_KEYS = ("x", "alphas", "lrs", "batches", "steps", "loss", "status", "wall_time_s", "device", "depth")


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
    A = torch.as_tensor(inst["A"], dtype=dtype, device=device)
    y = torch.as_tensor(inst["y"], dtype=dtype, device=device).unsqueeze(2)
    count, m, n = A.shape
    if max(batches) > m or min(batches) < 1:
        raise IlocoError(f"sp3: batch sizes must lie in 1..m = {m}, got {sorted(batches)}")
    combos = [(b, lr) for b in batches for lr in lrs]
    cell_lr = torch.tensor([c[1] for c in combos], dtype=dtype, device=device)
    cell_b = torch.tensor([c[0] for c in combos], dtype=dtype, device=device)
    u0 = torch.full((count, n, len(combos)), alpha, dtype=dtype, device=device)
    state = {
        "A": A,
        "y": y,
        "ynorm2": 0.5 * (y * y).sum(dim=1),
        "s2": torch.linalg.matrix_norm(A, ord=2).pow(2).unsqueeze(1),
        "u": u0,
        "v": u0.clone(),
    }
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


def support_size(x: np.ndarray, rel: float = SUPPORT_REL) -> np.ndarray:
    """Entries with |x_i| > rel·max|x| (along the last axis): the numerical sparsity."""
    return (np.abs(x) > rel * np.abs(x).max(axis=-1, keepdims=True)).sum(axis=-1)


def tabulate_sgd(inst: dict, base: dict, out: dict) -> pd.DataFrame:
    """One row per (instance, batch, lr): error of the limit, its distance to BP, its sparsity."""
    rows = []
    k = int((inst["x_star"][0] != 0).sum())
    count, m, n = inst["A"].shape
    for i in range(count):
        for j in range(len(out["lrs"])):
            x = out["x"][i, j]
            diverged = int(out["status"][i, j]) == STATUS.index("diverged")
            rows.append(
                {
                    "instance": i,
                    "instance_seed": f"{inst['seeds'][i][0]}:{inst['seeds'][i][1]}",
                    "n": n,
                    "m": m,
                    "k": k,
                    "depth": int(out["depth"]),
                    "alpha": float(out["alphas"][j]),
                    "lr": float(out["lrs"][j]),
                    "batch": int(out["batches"][j]),
                    "method": "GD" if int(out["batches"][j]) == m else "SGD",
                    "dist_xstar": np.nan if diverged else float(rel_dist(x, inst["x_star"][i])),
                    "dist_bp": np.nan if diverged else float(rel_dist(x, base["x_bp"][i])),
                    "l1_ratio": np.nan if diverged else float(np.abs(x).sum() / np.abs(base["x_bp"][i]).sum()),
                    "support": -1 if diverged else int(support_size(x)),
                    "steps": int(out["steps"][i, j]),
                    "final_loss": float(out["loss"][i, j]),
                    "status": STATUS[int(out["status"][i, j])],
                    "device": str(out["device"]),
                    "wall_time_s": float(out["wall_time_s"]) / out["x"].shape[0] / out["x"].shape[1],
                }
            )
    return pd.DataFrame(rows)


def noisy_instances(inst: dict, sigma: float, seed: int) -> dict:
    """The same (A, x*) with y = Ax* + σε, ε ~ N(0, I_m), noise stream (seed, 3, i)."""
    y = inst["y"].copy()
    for i in range(len(y)):
        y[i] += sigma * np.random.default_rng([seed, 3, i]).standard_normal(y.shape[1])
    return dict(inst, y=y)


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


def lasso_path_errors(inst: dict, n_lambdas: int = 100, eps: float = 1e-4) -> dict:
    """The Lasso path (scikit-learn, coordinate descent, no intercept) of every instance:
    relative error to x* along λ, the objective being ‖y − Ax‖²/(2m) + λ‖x‖₁."""
    from sklearn.linear_model import lasso_path

    A, y, x_star = inst["A"], inst["y"], inst["x_star"]
    errs, lams = [], []
    for i in range(len(A)):
        lam, coefs, _ = lasso_path(A[i], y[i], eps=eps, alphas=n_lambdas, tol=1e-10, max_iter=100000)
        errs.append(rel_dist(coefs.T, x_star[i]))
        lams.append(lam)
    return {"err": np.stack(errs), "lambdas": np.stack(lams)}


def tabulate_noise(inst: dict, traj: dict, lasso: dict, sigma: float) -> pd.DataFrame:
    """Long table: one row per (instance, method, α or λ, step): GD's trajectory and the Lasso path."""
    rows = []
    count, m, n = inst["A"].shape
    k = int((inst["x_star"][0] != 0).sum())
    common = {"n": n, "m": m, "k": k, "sigma": sigma, "depth": int(traj["depth"])}
    for i in range(count):
        for j, alpha in enumerate(traj["alphas"]):
            for s_idx, st in enumerate(traj["steps"]):
                rows.append(
                    {
                        "instance": i,
                        "method": "GD",
                        "alpha": float(alpha),
                        "step": int(st),
                        "lambda": np.nan,
                        "rel_err": float(traj["err"][i, j, s_idx]),
                        "train_loss": float(traj["train_loss"][i, j, s_idx]),
                        **common,
                    }
                )
        for lam, e in zip(lasso["lambdas"][i], lasso["err"][i], strict=True):
            rows.append(
                {
                    "instance": i,
                    "method": "Lasso",
                    "alpha": np.nan,
                    "step": -1,
                    "lambda": float(lam),
                    "rel_err": float(e),
                    "train_loss": np.nan,
                    **common,
                }
            )
    table = pd.DataFrame(rows)
    table["device"] = str(traj["device"])
    table["wall_time_s"] = float(traj["wall_time_s"]) / (count * len(traj["alphas"]))
    return table
