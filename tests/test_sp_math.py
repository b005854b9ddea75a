"""The science of SP1: gradients, and where the GD limit of a diagonal network lands."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iloco.core.engine import StopRule
from iloco.sp import grid, model, problems, regularizer, tables

CPU = torch.device("cpu")
STOP = StopRule(max_steps=100_000, tol_loss=1e-13, tol_change=0.0, check_every=100)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny batched tensors: one torch thread is fastest (and immune to a busy machine), as in the workflow."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def easy():
    """A seeded instance well inside basis pursuit's recovery region (n=30, m=20, k=2)."""
    inst = problems.make_instances(30, 20, 2, 1, seed=3, nonzeros="sign")
    return inst, problems.solve_baselines(inst)


def limit(inst, depth, alpha, stop=STOP):
    res = model.train(inst, depth, [alpha], stop, 0.5, CPU, progress=False)
    return model.network_output(res, depth)[0, 0], res


@pytest.mark.parametrize("depth", [2, 3])
def test_gradients_match_autograd(depth):
    inst = problems.make_instances(12, 6, 2, 2, seed=1)
    A = torch.tensor(inst["A"])
    y = torch.tensor(inst["y"]).unsqueeze(2)
    u = torch.rand(2, 12, 3, dtype=torch.float64) + 0.1
    v = torch.rand(2, 12, 3, dtype=torch.float64) + 0.1
    step, _ = model.make_step(depth, 0.5)
    gu, gv, curv = step.gradients({"A": A, "y": y, "u": u, "v": v, "s2": torch.ones(2, 1)})
    uu, vv = u.clone().requires_grad_(), v.clone().requires_grad_()
    r = torch.bmm(A, uu**depth - vv**depth) - y
    (0.5 * (r * r).sum()).backward()
    torch.testing.assert_close(gu, uu.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gv, vv.grad, rtol=1e-12, atol=1e-12)
    assert (curv > 0).all()


def test_basis_pursuit_recovers_sparse_vector():
    inst = problems.make_instances(100, 40, 5, 3, seed=11)
    base = problems.solve_baselines(inst)
    assert (base["bp_status"] == 0).all()
    assert np.all(tables.rel_dist(base["x_bp"], inst["x_star"]) < 1e-8)
    # min-l2 interpolates, lies in the row space, and is not sparse
    A, y, x2 = inst["A"][0], inst["y"][0], base["x_l2"][0]
    np.testing.assert_allclose(A @ x2, y, atol=1e-10)
    null = np.linalg.svd(A)[2][40:]
    assert np.abs(null @ x2).max() < 1e-10
    assert (np.abs(x2) > 1e-6).sum() > 40


def test_small_alpha_limit_is_basis_pursuit(easy):
    inst, base = easy
    x, res = limit(inst, 2, 1e-5)
    # small-alpha runs approach their limit sublinearly (off-support entries decay at a rate
    # proportional to their size), so the step budget, not the loss tolerance, ends this run
    assert res.loss[0, 0] < 1e-8
    assert tables.rel_dist(x, base["x_bp"][0]) < 1e-3


def test_large_alpha_limit_approaches_min_l2(easy):
    inst, base = easy
    dists = [tables.rel_dist(limit(inst, 2, a)[0], base["x_l2"][0]) for a in (1.0, 10.0)]
    assert dists[1] < 1e-3
    assert dists[1] < dists[0] / 10  # the kernel regime is approached as alpha grows
    assert tables.rel_dist(limit(inst, 2, 10.0)[0], base["x_bp"][0]) > 0.1  # and it is not l1


def test_depth3_behaves_as_depth2_at_matching_alpha(easy):
    """Depth L starts at x-scale alpha^L, so depth 3 at alpha^3 = a^2 is matched to depth 2
    at a: same regime at both ends (l1 and l2), and the same interpolation in between."""
    inst, base = easy
    for a2, target, far, tol in ((1e-3, "x_bp", "x_l2", 1e-3), (10.0, "x_l2", "x_bp", 1e-4)):
        x2, _ = limit(inst, 2, a2)
        x3, _ = limit(inst, 3, a2 ** (2 / 3))
        for x in (x2, x3):
            assert tables.rel_dist(x, base[target][0]) < tol, (a2, target)
            assert tables.rel_dist(x, base[far][0]) > 0.1
        assert tables.rel_dist(x3, x2) < tol
    x2, _ = limit(inst, 2, 0.3)
    x3, _ = limit(inst, 3, 0.3 ** (2 / 3))
    for x in (x2, x3):
        assert 0.05 < tables.rel_dist(x, base["x_bp"][0]) < 0.9
        assert 0.05 < tables.rel_dist(x, base["x_l2"][0]) < 0.9
    assert tables.rel_dist(x3, x2) < 0.5 * min(
        tables.rel_dist(x2, base["x_bp"][0]), tables.rel_dist(x2, base["x_l2"][0])
    )


def test_batched_equals_per_trial():
    inst = problems.make_instances(30, 15, 2, 3, seed=5)
    stop = StopRule(max_steps=3000, tol_loss=1e-9, tol_change=0.0, check_every=50)
    alphas = [1e-2, 1.0]
    batched = model.network_output(model.train(inst, 2, alphas, stop, 0.5, CPU, progress=False), 2)
    for i in range(3):
        one = {k: v[i : i + 1] for k, v in inst.items()}
        for j, a in enumerate(alphas):
            single = model.network_output(model.train(one, 2, [a], stop, 0.5, CPU, progress=False), 2)[0, 0]
            np.testing.assert_allclose(batched[i, j], single, rtol=0, atol=1e-12)


def test_bad_problem_sizes_are_errors():
    from iloco.core.errors import IlocoError

    with pytest.raises(IlocoError, match="m < n"):
        problems.make_instances(10, 10, 2, 1, seed=0)
    with pytest.raises(IlocoError, match="k <= m"):
        problems.make_instances(10, 5, 6, 1, seed=0)
    with pytest.raises(IlocoError, match="alphas must be > 0"):
        model.train(problems.make_instances(10, 5, 1, 1, seed=0), 2, [0.0], STOP, 0.5, CPU)


# --------------------------------------------------------------------------- SP1: the exact regularizer
@pytest.mark.parametrize("depth, alphas", [(2, [0.15, 0.3, 1.0]), (3, [0.3, 1.0])])
def test_gd_limit_is_the_minimizer_of_q_alpha(easy, depth, alphas):
    """GD (lr = 0.1) ends within 5e-3 (relative) of argmin Q_α s.t. Ax = y at every α, where the
    limit is far from both BP and min-ℓ2; the gap is the finite step (lr = 0.5 is further)."""
    inst, base = easy
    A, y = inst["A"][0], inst["y"][0]
    stop = StopRule(max_steps=150_000, tol_loss=1e-14, tol_change=0.0, check_every=100)
    gd = model.network_output(model.train(inst, depth, alphas, stop, 0.1, CPU, progress=False), depth)[0]
    for j, a in enumerate(alphas):
        sol = regularizer.solve_potential(A, y, a, depth)
        assert sol["residual"] < 1e-10
        assert tables.rel_dist(gd[j], sol["x"]) < 5e-3, (depth, a)
    mid = regularizer.solve_potential(A, y, 0.3, depth)["x"]
    assert tables.rel_dist(mid, base["x_bp"][0]) > 0.05 and tables.rel_dist(mid, base["x_l2"][0]) > 0.05
    coarse = model.network_output(model.train(inst, depth, [0.3], stop, 0.5, CPU, progress=False), depth)[0, 0]
    fine = gd[alphas.index(0.3)]
    assert tables.rel_dist(fine, mid) < tables.rel_dist(coarse, mid)


def test_q_alpha_minimizer_is_optimal_and_has_the_limits(easy):
    inst, base = easy
    A, y = inst["A"][0], inst["y"][0]
    null = np.linalg.svd(A)[2][A.shape[0] :]
    rng = np.random.default_rng(0)
    for depth in (2, 3, 4):
        x = regularizer.solve_potential(A, y, 0.5, depth)["x"]
        q0 = regularizer.potential(x, 0.5, depth)
        for _ in range(5):  # feasible perturbations never lower Q_α
            d = null.T @ rng.standard_normal(null.shape[0])
            assert regularizer.potential(x + 1e-3 * d / np.linalg.norm(d), 0.5, depth) >= q0 - 1e-12
    # α → 0: basis pursuit; α → ∞: minimum ℓ2
    assert tables.rel_dist(regularizer.solve_potential(A, y, 1e-6, 2)["x"], base["x_bp"][0]) < 1e-4
    assert tables.rel_dist(regularizer.solve_potential(A, y, 100.0, 2)["x"], base["x_l2"][0]) < 1e-6
    # the closed form of depth 2 agrees with the conjugate used for depth > 2, and the scalings
    z = np.array([-3.0, 0.2, 5.0])
    q = regularizer.potential(z, 0.7, 2)
    w = np.arcsinh(z / (2 * 0.7**2))
    assert q == pytest.approx(float(np.sum(z * w - 4 * 0.7**2 * np.sinh(w / 2) ** 2)), rel=1e-12)
    assert regularizer.potential(z, 1e-8, 2) / np.log(1e16) == pytest.approx(np.abs(z).sum(), rel=0.1)
    assert 4 * 1e4 * regularizer.potential(z, 100.0, 2) == pytest.approx((z * z).sum(), rel=1e-6)


# --------------------------------------------------------------------------- SP2: phase transitions
def test_l1_transition_matches_known_values():
    # Donoho–Tanner's weak threshold = the statistical-dimension curve, convention ρ = k/m
    assert grid.l1_transition(0.5) == pytest.approx(0.3857, abs=1e-3)
    assert grid.statistical_dimension_l1(0.0) == 0.0 and grid.statistical_dimension_l1(1.0) == 1.0
    curve = grid.l1_transition_curve(20)
    assert np.all(np.diff(curve["rho"]) > 0) and curve["rho"].iloc[0] < 0.15 and curve["rho"].iloc[-1] > 0.85
    # ψ(ρδ) = δ on the curve
    for d in (0.2, 0.7):
        assert grid.statistical_dimension_l1(grid.l1_transition(d) * d) == pytest.approx(d, abs=1e-10)


def test_grid_instances_and_basis_pursuit_inside_and_outside_the_region():
    inst = problems.make_grid_instances(60, [0.5], [0.1, 0.8], 4, seed=5, nonzeros="sign")
    assert inst["A"].shape == (8, 30, 60) and list(inst["k"]) == [3] * 4 + [24] * 4
    np.testing.assert_array_equal(inst["A"][:, 30:], 0)
    bp = problems.solve_grid_bp(inst)
    err = tables.rel_dist(bp["x_bp"], inst["x_star"])
    assert (bp["bp_status"] == 0).all() and (bp["lp_time_s"] > 0).all()
    assert np.all(err[:4] < 1e-8)  # ρ = 0.1 lies well inside the region (theory: 0.386)
    assert np.all(err[4:] > 1e-2)  # ρ = 0.8 far outside


def test_padded_rows_do_not_change_gd():
    inst = problems.make_grid_instances(20, [0.3, 0.6], [0.3], 2, seed=1)
    stop = StopRule(max_steps=500, tol_loss=0.0, tol_change=-1.0, check_every=500)
    batched = model.network_output(model.train(inst, 2, [0.1], stop, 0.5, CPU, progress=False), 2)
    for r in range(4):
        m = int(inst["m"][r])
        one = {"A": inst["A"][r : r + 1, :m], "y": inst["y"][r : r + 1, :m]}
        single = model.network_output(model.train(one, 2, [0.1], stop, 0.5, CPU, progress=False), 2)[0, 0]
        np.testing.assert_allclose(batched[r, 0], single, rtol=0, atol=1e-12)


def test_transition_rho_interpolates():
    assert grid.transition_rho(np.array([0.1, 0.2, 0.3]), np.array([1.0, 0.6, 0.2])) == pytest.approx(0.225)
    assert grid.transition_rho(np.array([0.1, 0.2]), np.array([0.4, 0.0])) == 0.1
    assert np.isnan(grid.transition_rho(np.array([0.1, 0.2]), np.array([1.0, 0.9])))


def test_bad_grid_values_are_errors():
    from iloco.core.errors import IlocoError

    with pytest.raises(IlocoError, match="delta values must lie in"):
        problems.make_grid_instances(20, [0.0, 0.5], [0.2], 1, seed=0)
    with pytest.raises(IlocoError, match="rho values must lie in"):
        problems.make_grid_instances(20, [0.5], [1.2], 1, seed=0)
    with pytest.raises(IlocoError, match="delta must lie in"):
        grid.l1_transition(1.5)


# --------------------------------------------------------------------------- SP3: SGD and noise
def test_sgd_full_batch_is_gd_and_sgd_interpolates(easy):
    inst, base = easy
    stop = StopRule(max_steps=20_000, tol_loss=1e-12, tol_change=0.0, check_every=100)
    out = model.train_sgd(inst, 2, 0.1, [0.5], [4, 20], stop, seed=1, device=CPU, progress=False)
    gd = model.network_output(model.train(inst, 2, [0.1], stop, 0.5, CPU, progress=False), 2)[0, 0]
    np.testing.assert_allclose(out["x"][0, 1], gd, rtol=0, atol=1e-12)  # batch = m: exactly GD
    x_sgd = out["x"][0, 0]
    np.testing.assert_allclose(inst["A"][0] @ x_sgd, inst["y"][0], atol=1e-5)  # SGD interpolates
    again = model.train_sgd(inst, 2, 0.1, [0.5], [4, 20], stop, seed=1, device=CPU, progress=False)
    np.testing.assert_array_equal(again["x"], out["x"])  # seeded
    table = tables.tabulate_sgd(inst, base, out)
    assert list(table["method"]) == ["SGD", "GD"] and table["support"].between(1, 30).all()


def test_early_stopping_and_lasso_on_noisy_data():
    inst = problems.noisy_instances(problems.make_instances(60, 30, 3, 2, seed=2), 0.1, seed=2)
    steps = model.record_steps(5000, 15)
    traj = model.noise_trajectory(inst, 2, [1e-3], 0.5, steps, CPU, progress=False)
    err = traj["err"][:, 0]
    best, lasso = err.min(axis=1), problems.lasso_path_errors(inst, 40)
    l2 = tables.rel_dist(np.stack([problems.min_l2(inst["A"][i], inst["y"][i]) for i in range(2)]), inst["x_star"])
    # stopping early beats running on (which fits the noise) and the min-l2 interpolant
    assert np.all(best < 0.8 * err[:, -1]) and np.all(best < 0.5 * l2)
    # the Lasso at its best lambda does too, and the two oracles are of the same order
    assert np.all(lasso["err"].min(axis=1) < 0.5 * l2)
    assert np.all(best < 2 * lasso["err"].min(axis=1)) and np.all(lasso["err"].min(axis=1) < 2 * best)
    assert np.all(np.diff(lasso["lambdas"], axis=1) < 0)
