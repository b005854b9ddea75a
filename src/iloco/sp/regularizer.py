"""SP1's exact implicit regularizer: Woodworth et al.'s Q_α (depth 2) and depth-L potential,
and its minimizer subject to Ax = y (the gradient-flow limit) through the dual."""

from __future__ import annotations

import functools
import time
import warnings

import numpy as np

POTENTIAL_KEYS = ("x", "alphas", "status", "residual_cvxpy", "residual", "newton_steps", "wall_time_s", "depth")


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


def solve_potential(A: np.ndarray, y: np.ndarray, alpha: float, depth: int, tol: float | None = None) -> dict:
    """min Q_α(x) s.t. Ax = y, the limit of gradient flow predicted by Woodworth et al. (2020), by
    damped Newton on its dual continued in α (``iloco.sp.dual``: O(n m²) time and O(n m) memory per
    step, no cvxpy) to ‖Ax − y‖ ≤ ``tol`` ‖y‖ (default ``dual.RESIDUAL_TOL``).

    Returns x, the status (``optimal``, ``stalled``, ``max_iter``), ``residual_cvxpy`` (the name
    kept from the former cvxpy solver: now the residual of the warm start at the target α, before
    its Newton corrector), the final ``residual`` and the Newton steps of all stages.
    """
    from iloco.sp import dual

    return dual.solve_potential_dual(A, y, alpha, depth, dual.RESIDUAL_TOL if tol is None else tol)


@np.errstate(over="ignore", invalid="ignore")  # line-search candidates may overflow; they are rejected
def _solve_potential_cvxpy(A: np.ndarray, y: np.ndarray, alpha: float, depth: int, tol: float = POTENTIAL_TOL) -> dict:
    """The former ``solve_potential``, kept as the independent reference of tests/test_sp_dual.py:
    cvxpy + Clarabel, then Newton refinement. It does not scale (depth 3, n = 1 000, m = 100:
    killed at ~24 GB by its power cones).

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


GRID_POTENTIAL_KEYS = ("x", "status", "residual", "wall_time_s", "alpha", "depth")


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
