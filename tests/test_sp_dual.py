"""The exact regularizer Q_α by Newton on its dual (iloco.sp.dual): agreement with the former cvxpy +
Clarabel solver and with a 50-digit reference, optimality, the α limits, and scale (issue 15, item 3)."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from iloco.core.errors import IlocoError
from iloco.sp import dual, problems, regularizer, tables


def instance(seed: int, n: int = 40, m: int = 20, k: int = 3):
    A, x_star = problems.draw_problem(np.random.default_rng([11, seed]), m, n, k, "gaussian")
    return A, A @ x_star, x_star


#: (depth, α) where the cvxpy + Clarabel reference (then refined) reaches ‖Ax − y‖ ≤ 1e-9 ‖y‖;
#: below them Clarabel fails outright (x = 0; see test_agrees_with_high_precision_where_cvxpy_fails).
CVXPY_CASES = [(2, a) for a in (1e-5, 1e-3, 1e-1, 1.0)]
CVXPY_CASES += [(3, a) for a in (1e-4, 1e-3, 1e-2, 1e-1, 1.0)] + [(4, a) for a in (1e-3, 1e-2, 1e-1, 1.0)]


@pytest.mark.parametrize("depth, alpha", CVXPY_CASES)
def test_agrees_with_the_cvxpy_program(depth, alpha):
    for seed in (0, 1):
        A, y, _ = instance(seed)
        ref = regularizer._solve_potential_cvxpy(A, y, alpha, depth)
        assert ref["residual"] < 1e-9, "the reference itself did not converge"
        sol = regularizer.solve_potential(A, y, alpha, depth)
        assert sol["status"] == "optimal" and sol["residual"] <= 1e-11
        assert tables.rel_dist(sol["x"], ref["x"]) < 1e-8, (seed, depth, alpha)


def mp_reference(A, x_star, alpha, depth, nu0, steps=6, digits=50):
    """x of the scaled dual solved to ``digits`` digits by Newton in mpmath from ``nu0``, for
    y = A x* computed exactly (so that the data's own rounding does not enter)."""
    mp = pytest.importorskip("mpmath")
    with mp.workdps(digits):
        m, n = A.shape
        Am = mp.matrix(A.tolist())
        c = mp.mpf(alpha) ** depth
        b = Am * mp.matrix(x_star.tolist()) / c
        if depth == 2:

            def h(w):
                return 2 * mp.sinh(w)

            def dh(w):
                return 2 * mp.cosh(w)
        else:
            p = mp.mpf(depth) / (depth - 2)

            def h(w):
                return (1 - w) ** (-p) - (1 + w) ** (-p)

            def dh(w):
                return p * ((1 - w) ** (-p - 1) + (1 + w) ** (-p - 1))

        nu = mp.matrix(nu0.tolist())
        for _ in range(steps):
            w = Am.T * nu
            d = [dh(wi) for wi in w]
            grad = b - Am * mp.matrix([h(wi) for wi in w])
            H = mp.matrix(m, m)
            for i in range(m):
                for j in range(i, m):
                    H[i, j] = H[j, i] = mp.fsum(Am[i, q] * d[q] * Am[j, q] for q in range(n))
            step = mp.lu_solve(H, grad)
            dw = Am.T * step
            t = mp.mpf(1)
            if depth > 2:  # stay inside |w| < 1
                for wi, di in zip(w, dw, strict=True):
                    if di != 0:
                        t = min(t, mp.mpf("0.99") * ((1 - wi) if di > 0 else (1 + wi)) / abs(di))
            nu = nu + t * step
        assert mp.norm(grad) / mp.norm(b) < mp.mpf(10) ** (-30)
        return np.array([float(c * h(wi)) for wi in Am.T * nu])


@pytest.mark.parametrize("depth, alpha", [(2, 1e-6), (3, 1e-5), (4, 1e-4), (4, 1e-5)])
def test_agrees_with_high_precision_where_cvxpy_fails(depth, alpha):
    """At depth L > 2 and tiny α, 1 − |Aᵀν| on the support is ~α^{L−2}, so that the rounding of
    Aᵀν alone moves x = α^L h(Aᵀν) by ~1e-16/α^{L−2} relatively (5e-7 at depth 4, α = 1e-5):
    the final correction in x itself (``_polish``) still gets x to full precision."""
    A, y, x_star = instance(0)
    if depth > 2:
        assert regularizer._solve_potential_cvxpy(A, y, alpha, depth)["residual"] > 0.1  # what the former solver gave
    sol = dual.solve_potential_dual(A, y, alpha, depth)
    assert sol["status"] == "optimal" and sol["residual"] <= 1e-11
    ref = mp_reference(A, x_star, alpha, depth, sol["nu"])
    assert tables.rel_dist(sol["x"], ref) < 1e-12


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_kkt(depth):
    """Primal feasibility Ax = y, dual feasibility |Aᵀν| < 1 (depth > 2) and stationarity
    x = potential_map(Aᵀν), the last measured in w (x's error divided by the map's slope)."""
    A, y, _ = instance(2)
    for alpha in (1e-3, 0.05, 0.5, 5.0):
        sol = regularizer.solve_potential(A, y, alpha, depth)
        w = A.T @ sol["nu"]
        assert sol["residual"] <= 1e-11
        assert np.linalg.norm(A @ sol["x"] - y) <= 1e-10 * np.linalg.norm(y)
        if depth > 2:
            assert np.abs(w).max() < 1
        dmap = regularizer._potential_dmap(w, alpha, depth)
        gap = np.abs(sol["x"] - regularizer.potential_map(w, alpha, depth)) / dmap
        assert gap.max() < 1e-12, (depth, alpha)
    zero = regularizer.solve_potential(A, np.zeros(A.shape[0]), 0.1, depth)
    assert zero["status"] == "optimal" and not zero["x"].any()
    with pytest.raises(IlocoError, match="alpha must be > 0"):
        regularizer.solve_potential(A, y, 0.0, depth)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_limits_basis_pursuit_and_min_l2(depth):
    """α → 0: basis pursuit (HiGHS), at distance O(α^L) for depth L > 2 (off the support
    x = α^L h(w), |w| < 1); α → ∞: the minimum-ℓ2 interpolant A⁺y."""
    A, y, x_star = instance(0)
    bp, status = problems.basis_pursuit(A, y)
    assert status == 0 and tables.rel_dist(bp, x_star) < 1e-10
    x_l2 = np.linalg.pinv(A) @ y
    small = {2: (1e-8, 1e-10), 3: (1e-3, 1e-4), 4: (1e-2, 1e-3)}[depth]
    d = [tables.rel_dist(regularizer.solve_potential(A, y, a, depth)["x"], bp) for a in small]
    if depth == 2:  # logarithmically slow
        assert d[1] < d[0] / 10 and d[1] < 1e-7
    else:
        assert d[0] / d[1] == pytest.approx(10.0**depth, rel=0.2) and d[1] < 1e-9
    assert tables.rel_dist(regularizer.solve_potential(A, y, 1e3, depth)["x"], x_l2) < 1e-12
    mid = regularizer.solve_potential(A, y, 0.5, depth)["x"]
    assert tables.rel_dist(mid, bp) > 1e-3 and tables.rel_dist(mid, x_l2) > 1e-3


def test_rank_deficient_rows_change_nothing():
    """Zero rows (a padded grid row) or repeated rows make AAᵀ and the Hessian singular."""
    A, y, x_star = instance(1)
    for M in (np.vstack([A, np.zeros((3, A.shape[1]))]), np.vstack([A, A[:3]])):
        for depth, alpha in ((2, 1e-3), (3, 1e-2), (4, 0.05)):
            sol = regularizer.solve_potential(M, M @ x_star, alpha, depth)
            assert sol["status"] == "optimal"
            assert tables.rel_dist(sol["x"], regularizer.solve_potential(A, y, alpha, depth)["x"]) < 1e-12


@pytest.fixture
def no_cvxpy(monkeypatch):
    """Any cvxpy solve fails the test (the former solver solved cvxpy programs)."""
    cp = pytest.importorskip("cvxpy")

    def refuse(*args, **kwargs):
        raise AssertionError("solve_potential called cvxpy")

    monkeypatch.setattr(cp.Problem, "solve", refuse)


@pytest.mark.parametrize("depth, alpha, near", [(2, 1e-3, 0.2), (2, 1e-5, 0.02), (3, 1e-3, 1e-5), (4, 1e-3, 1e-8)])
def test_scale_n1000_fast_light_and_without_cvxpy(no_cvxpy, depth, alpha, near):
    """n = 1 000, m = 100: the former solver's cvxpy + Clarabel program went to ~24 GB at depth 3
    (killed); here each solve needs a few MiB and no cvxpy (its time is a benchmark's matter, not a
    test's: about 0.1 s on one thread)."""
    A, x_star = problems.draw_problem(np.random.default_rng([15, 3]), 100, 1000, 10, "gaussian")
    y = A @ x_star
    tracemalloc.start()
    try:
        sol = regularizer.solve_potential(A, y, alpha, depth)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sol["status"] == "optimal" and sol["residual"] <= 1e-11
    assert peak < 64 * 2**20, peak  # A itself is 0.8 MB
    # well inside BP's recovery region (k = 10 of m = 100): x_Q nears x* as α falls (slowly at depth 2)
    assert tables.rel_dist(sol["x"], x_star) < near


def test_grid_potential_schema_and_module_is_torch_and_cvxpy_free(no_cvxpy):
    inst = problems.make_grid_instances(60, [0.5], [0.1], 2, seed=5, nonzeros="sign")
    out = regularizer.solve_grid_potential(inst, 3, 1e-2)
    assert set(out) == set(regularizer.GRID_POTENTIAL_KEYS)
    assert list(out["status"]) == ["optimal", "optimal"] and (out["residual"] <= 1e-11).all()
    pot = regularizer.solve_potentials(problems.make_instances(40, 20, 2, 1, seed=3), 2, [1e-3, 1.0])
    assert set(pot) == set(regularizer.POTENTIAL_KEYS) and (pot["status"] == "optimal").all()
    code = "import sys, iloco.sp.dual; assert not {'torch', 'cvxpy'} & set(sys.modules), sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_jump_newton_cannot_finish_is_retaken_shorter():
    """Paper-scale SP1, instance 8, depth 4, α = 0.3: the continuation jumped from c = 0.41 to
    the target 8.1e-3 in one stage and Newton stalled there at residual 2 (the job failed). The
    solver now goes back to the last stage and retakes the jump in shorter steps."""
    inst = problems.make_instances(200, 80, 8, 9, 20240501)
    out = dual.solve_potential_dual(inst["A"][8], inst["y"][8], 0.3, 4)
    assert out["status"] == "optimal" and out["residual"] < 1e-12
    assert out["stages"] > 2  # the retaken stage
