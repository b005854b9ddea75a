"""SP problem instances (sensing matrices, sparse ground truths, the SP2 grid, noisy copies) and
the baselines they are compared with: basis pursuit (HiGHS), minimum ℓ2, the Lasso path."""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import linprog

from iloco.core.errors import IlocoError
from iloco.sp.tables import rel_dist

INSTANCE_KEYS = ("A", "x_star", "y", "seeds")


BASELINE_KEYS = ("x_bp", "x_l2", "bp_status")


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


# --------------------------------------------------------------------------- SP2: phase transitions
GRID_KEYS = ("A", "x_star", "y", "m", "k", "delta", "rho", "cell", "trial", "seeds")


GRID_BP_KEYS = ("x_bp", "bp_status", "lp_time_s")


def make_grid_instances(
    n: int, deltas: list[float], rhos: list[float], trials: int, seed: int, nonzeros: str = "gaussian"
) -> dict:
    """``trials`` instances per cell (δ, ρ) of the phase-transition grid, as one padded batch.

    Row r = (cell, trial) has m = round(δn) Gaussian N(0, 1/m) measurements of a
    k = round(ρm)-sparse x*; A and y are padded with zero rows up to the grid's largest m, which
    changes neither the loss nor its gradient, so every row trains in one tensor. Row seeds are
    (seed, 2, cell, trial): SP2's stream, distinct from SP1's (seed, i).
    """
    from iloco.sp import grid as sp_grid

    for name, values in (("delta", deltas), ("rho", rhos)):
        bad = [v for v in values if not 0 < v <= 1]
        if bad:
            raise IlocoError(f"sp2: {name} values must lie in (0, 1], got {bad[0]}")
    grid = sp_grid.cells(n, deltas, rhos)
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


def noisy_instances(inst: dict, sigma: float, seed: int) -> dict:
    """The same (A, x*) with y = Ax* + σε, ε ~ N(0, I_m), noise stream (seed, 3, i)."""
    y = inst["y"].copy()
    for i in range(len(y)):
        y[i] += sigma * np.random.default_rng([seed, 3, i]).standard_normal(y.shape[1])
    return dict(inst, y=y)


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
