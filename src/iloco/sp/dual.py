"""The exact implicit regularizer Q_α of a diagonal linear network, by Newton's method on its dual.

min Q_α(x) s.t. Ax = y (Woodworth et al. 2020; depth L > 2: Chou, Maly, Rauhut 2023) has the
dual max_ν yᵀν − Σ_i ψ((Aᵀν)_i), with ψ' = x(w) the map of ``regularizer.potential_map``: x = α^L h(w),
h(w) = 2 sinh(w) for depth 2 and h(w) = (1 − w)^{−p} − (1 + w)^{−p}, p = L/(L − 2), |w| < 1, for
depth L > 2. Divided by c = α^L it reads

    max_ν f(ν) = bᵀν − Σ_i g((Aᵀν)_i),   b = y/c,   g' = h,   x = c·h(Aᵀν),

a smooth, strictly concave problem in the m variables ν whose Hessian −A diag(h'(Aᵀν)) Aᵀ is
m × m. Damped Newton on it costs O(n m²) to form and O(m³) to factor per step, with no n × n
or conic matrices, and is continued in α: from an α so large that the problem is the min-ℓ2 one
(ν = (AAᵀ)⁻¹y / (c h'(0))) down to the target, each stage warm-started along the tangent of the
solution path (``_predict``). A last linearized correction of x itself (``_polish``) removes
the roundoff that x = c·h(Aᵀν) suffers where |Aᵀν| nears 1 (depth L > 2, small α). NumPy and
SciPy only: no cvxpy, no torch.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from iloco.core.errors import IlocoError

#: The target: ‖Ax − y‖ ≤ RESIDUAL_TOL ‖y‖.
RESIDUAL_TOL = 1e-11
#: Continuation starts where the min-ℓ2 dual point has max |w| = W_START (h is nearly linear there).
W_START = 0.5
#: Intermediate stages stop at this relative residual (the final one at the target).
STAGE_TOL = 1e-6
#: A stage stops as stalled after this many Newton steps without halving its residual.
STALL_STEPS = 8
#: The final correction in x (``_polish``) is made from this residual down: its linearization
#: error is of the order of the residual squared.
POLISH_FROM = 1e-5
#: Depth L > 2: a step keeps at least this fraction of the distance of every w_i to ±1.
BOUNDARY_KEEP = 0.01


def unit_maps(depth: int):
    """h, h' and g = ∫₀ h (g(0) = 0) of depth ``depth`` at α = 1, vectorized.

    h and g are written without cancellation (expm1, log1p, arctanh), so that h stays accurate
    and differences of the dual objective too near w = 0 (large α). Outside |w| < 1 (depth > 2)
    h and g are NaN, so that the line search rejects such points.
    """
    if depth == 2:
        return (lambda w: 2 * np.sinh(w)), (lambda w: 2 * np.cosh(w)), (lambda w: 4 * np.sinh(w / 2) ** 2)
    if depth < 2:
        raise IlocoError(f"sp: depth must be at least 2, got {depth}")
    p = depth / (depth - 2)

    def h(w):  # (1 − w)^{−p} − (1 + w)^{−p}, without its cancellation at small |w| (large α)
        return (1 + w) ** (-p) * np.expm1(2 * p * np.arctanh(w))

    def dh(w):
        return p * ((1 - w) ** (-p - 1) + (1 + w) ** (-p - 1))

    def g(w):
        return (np.expm1((1 - p) * np.log1p(-w)) + np.expm1((1 - p) * np.log1p(w))) / (p - 1)

    return h, dh, g


def _solve_spd(H: np.ndarray, r: np.ndarray) -> np.ndarray:
    """H⁻¹r for the m × m Hessian, by Cholesky after a symmetric (Jacobi) scaling, which keeps
    the factorization accurate when h' spans many orders of magnitude (small α); least squares
    if H is numerically singular (rank-deficient A)."""
    diag = np.diag(H)
    if np.all(diag > 0) and np.all(np.isfinite(diag)):
        s = 1 / np.sqrt(diag)
        try:
            return s * cho_solve(cho_factor(H * s[:, None] * s[None, :]), s * r)
        except (LinAlgError, ValueError):
            pass
    return np.linalg.lstsq(H, r, rcond=None)[0]


def _max_step(w: np.ndarray, dw: np.ndarray, depth: int) -> float:
    """The largest t ≤ 1 keeping every 1 ∓ (w + t dw)_i ≥ BOUNDARY_KEEP (1 ∓ w_i) (depth > 2)."""
    if depth == 2:
        return 1.0
    gap = np.where(dw > 0, 1 - w, 1 + w)
    with np.errstate(divide="ignore"):
        t = np.where(dw != 0, (1 - BOUNDARY_KEEP) * gap / np.abs(dw), np.inf)
    return float(min(1.0, t.min()))


def _polish(A, y, x, nu, dhw, residual, c, sweeps: int = 2):
    """Linearized Newton corrections in x itself: x += h'(w) ∘ Aᵀ H⁻¹(y − Ax), ν += H⁻¹(y − Ax)/c.

    They reach the roundoff floor of the primal where recomputing x = c·h(Aᵀν) cannot: at depth
    L > 2 and small α, 1 − |w| on the support is so small (α^{L−2}) that the rounding of Aᵀν alone
    changes x there by ~1e-16/(1 − |w|) relatively. Each correction is kept only if it lowers
    ‖Ax − y‖; its linearization error is second order in a step that is already at roundoff.
    """
    ynorm = float(np.linalg.norm(y))
    H = (A * dhw) @ A.T
    for _ in range(sweeps):
        r = y - A @ x
        d = _solve_spd(H, r)
        cand = x + dhw * (A.T @ d)
        res = float(np.linalg.norm(A @ cand - y)) / ynorm
        if not res < residual:
            break
        x, nu, residual = cand, nu + d / c, res
    return x, nu, residual


def _newton(A, y, c, nu, maps, depth: int, target: float, max_steps: int):
    """Damped Newton on f(ν) = bᵀν − Σ g(Aᵀν), b = y/c, from ``nu`` until ‖b − A h(Aᵀν)‖ ≤ ``target`` ‖b‖.

    Steps are cut to keep |Aᵀν| < 1 (depth > 2), then halved until the dual rises by Armijo's
    rule or, where roundoff hides its rise (b is huge at small α), the gradient norm falls. The
    stage stalls when no step is found, or when ``STALL_STEPS`` steps do not halve the residual.
    Returns ν, the relative residual, the steps taken and whether it stalled.
    """
    h, dh, g = maps
    b = y / c
    bnorm = float(np.linalg.norm(b))
    w = A.T @ nu
    grad = b - A @ h(w)
    res = float(np.linalg.norm(grad)) / bnorm
    steps = idle = 0
    best = res
    while res > target and steps < max_steps:
        if idle >= STALL_STEPS:
            return nu, res, steps, True
        d = _solve_spd((A * dh(w)) @ A.T, grad)
        t = _max_step(w, A.T @ d, depth)
        f0, g0, slope = b @ nu - np.sum(g(w)), res * bnorm, grad @ d
        while True:
            if t <= 1e-14:
                return nu, res, steps, True
            cand = nu + t * d
            wc = A.T @ cand
            gradc = b - A @ h(wc)
            fc, gc = b @ cand - np.sum(g(wc)), float(np.linalg.norm(gradc))
            if np.isfinite(fc) and np.isfinite(gc) and (fc >= f0 + 1e-4 * t * slope or gc <= (1 - 1e-4 * t) * g0):
                break
            t /= 2
        nu, w, grad, res = cand, wc, gradc, gc / bnorm
        steps += 1
        best, idle = (res, 0) if res <= best / 2 else (best, idle + 1)
    return nu, res, steps, False


def _predict(A, y, c, c_next, nu, maps, depth: int):
    """The warm start of the stage at c_next from the solution at c: a step along the tangent of the
    solution path, dν/d log c = −H⁻¹b, in the variable in which the path is asymptotically linear as
    α → 0 (log c for depth 2, where ν ~ log(1/α); c^{1/p} = α^{L−2} for depth L > 2, where ν tends
    to a limit), cut to keep |Aᵀν| < 1, and taken only if it raises the next stage's dual."""
    h, dh, g = maps
    w = A.T @ nu
    scale = np.log(c / c_next) if depth == 2 else (p := depth / (depth - 2)) * (1 - (c_next / c) ** (1 / p))
    d = _solve_spd((A * dh(w)) @ A.T, y / c) * scale
    dw = A.T @ d
    t = _max_step(w, dw, depth)
    b_next = y / c_next
    f_pred = b_next @ (nu + t * d) - np.sum(g(w + t * dw))
    return nu + t * d if np.isfinite(f_pred) and f_pred > b_next @ nu - np.sum(g(w)) else nu


def solve_potential_dual(
    A: np.ndarray, y: np.ndarray, alpha: float, depth: int, tol: float = RESIDUAL_TOL, max_steps: int = 500
) -> dict:
    """min Q_α(x) s.t. Ax = y by damped Newton on the dual, continued in α.

    The continuation starts at the α where the min-ℓ2 dual point ν = (AAᵀ)⁻¹y/(c h'(0)) has
    max |w| = ``W_START`` (or at the target, if that is larger) and divides c = α^L by a ratio
    that grows while stages take few Newton steps and shrinks when they take many. Intermediate
    stages stop at ``STAGE_TOL``, the last one at ``tol``; then ``_polish`` corrects x itself.

    Returns ``x``; ``nu`` (the dual point, x ≈ α^L h(Aᵀν)); ``status``: ``optimal`` when
    ‖Ax − y‖ ≤ ``tol`` ‖y‖, else ``stalled`` (no progress left: roundoff) or ``max_iter`` (after
    ``max_steps`` Newton steps in all); ``residual`` = ‖Ax − y‖/‖y‖ of the returned x;
    ``residual_cvxpy``: the residual of the warm start at the target α, before its Newton
    corrector (NaN if the target stage was not reached; the key keeps the schema of the former
    cvxpy + Clarabel solver, whose pre-refinement residual it held); ``newton_steps`` (all
    stages) and ``stages``.
    """
    if not alpha > 0:
        raise IlocoError(f"sp: alpha must be > 0, got {alpha}")
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float)
    m, n = A.shape
    c = float(alpha) ** depth
    ynorm = float(np.linalg.norm(y))
    out = {"status": "max_iter", "residual_cvxpy": np.nan, "newton_steps": 0, "stages": 0}
    if ynorm == 0:
        return out | {"x": np.zeros(n), "nu": np.zeros(m), "status": "optimal", "residual_cvxpy": 0.0, "residual": 0.0}
    maps = unit_maps(depth)
    h, dh, _ = maps
    h0 = float(dh(np.zeros(1))[0])

    # the min-ℓ2 interpolant A⁺y = Aᵀz: the limit as α → ∞, and the start of the continuation
    z = _solve_spd(A @ A.T, y)
    c_k = max(c, float(np.abs(A.T @ z).max()) / (h0 * W_START))  # max |w| of ν = z/(c h0) is W_START
    nu = z / (c_k * h0)
    ratio = 10.0
    last = None  # (c, ν) of the last stage that reached its target: where a failed jump restarts
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # rejected candidates may overflow
        while True:
            out["stages"] += 1
            final = c_k == c
            budget = max_steps - out["newton_steps"]
            if final:
                out["residual_cvxpy"] = float(np.linalg.norm(A @ (c * h(A.T @ nu)) - y)) / ynorm
            nu, res, steps, stalled = _newton(A, y, c_k, nu, maps, depth, tol if final else STAGE_TOL, budget)
            out["newton_steps"] += steps
            if final and stalled and res > STAGE_TOL and last is not None and out["newton_steps"] < max_steps:
                # the jump from the last stage was too long for Newton (it stalled far from the
                # path, not at roundoff: seen at depth 4 from c/c_next = 50): go back, shorter.
                # A solve that succeeded before takes the same steps as before.
                ratio = max(np.sqrt(ratio), 1.5)
                c_k = max(c, last[0] / ratio)
                nu = _predict(A, y, last[0], c_k, last[1], maps, depth)
                continue
            if final or out["newton_steps"] >= max_steps:  # (an intermediate stage that stalls hands on)
                if stalled:
                    out["status"] = "stalled"
                break
            if not stalled:
                last = (c_k, nu)
            ratio = min(ratio**2, 1e8) if steps <= 3 else (max(np.sqrt(ratio), 1.5) if steps > 6 else ratio)
            c_next = max(c, c_k / ratio)
            nu = _predict(A, y, c_k, c_next, nu, maps, depth)
            c_k = c_next
        w = A.T @ nu
        x = c * h(w)
        residual = float(np.linalg.norm(A @ x - y)) / ynorm
        if final and residual <= POLISH_FROM:
            x, nu, residual = _polish(A, y, x, nu, dh(w), residual, c)
    if residual <= tol:
        out["status"] = "optimal"
    return out | {"x": x, "nu": nu, "residual": residual}
