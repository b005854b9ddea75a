"""The science of SP1: gradients, and where the GD limit of a diagonal network lands."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iloco import sp
from iloco.engine import StopRule

CPU = torch.device("cpu")
STOP = StopRule(max_steps=100_000, tol_loss=1e-13, tol_change=0.0, check_every=100)


@pytest.fixture(scope="module")
def easy():
    """A seeded instance well inside basis pursuit's recovery region (n=30, m=20, k=2)."""
    inst = sp.make_instances(30, 20, 2, 1, seed=3, nonzeros="sign")
    return inst, sp.solve_baselines(inst)


def limit(inst, depth, alpha, stop=STOP):
    res = sp.train(inst, depth, [alpha], stop, 0.5, CPU, progress=False)
    return sp.network_output(res, depth)[0, 0], res


@pytest.mark.parametrize("depth", [2, 3])
def test_gradients_match_autograd(depth):
    inst = sp.make_instances(12, 6, 2, 2, seed=1)
    A = torch.tensor(inst["A"])
    y = torch.tensor(inst["y"]).unsqueeze(2)
    u = torch.rand(2, 12, 3, dtype=torch.float64) + 0.1
    v = torch.rand(2, 12, 3, dtype=torch.float64) + 0.1
    step, _ = sp.make_step(depth, 0.5)
    gu, gv, curv = step.gradients({"A": A, "y": y, "u": u, "v": v, "s2": torch.ones(2, 1)})
    uu, vv = u.clone().requires_grad_(), v.clone().requires_grad_()
    r = torch.bmm(A, uu**depth - vv**depth) - y
    (0.5 * (r * r).sum()).backward()
    torch.testing.assert_close(gu, uu.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gv, vv.grad, rtol=1e-12, atol=1e-12)
    assert (curv > 0).all()


def test_basis_pursuit_recovers_sparse_vector():
    inst = sp.make_instances(100, 40, 5, 3, seed=11)
    base = sp.solve_baselines(inst)
    assert (base["bp_status"] == 0).all()
    assert np.all(sp.rel_dist(base["x_bp"], inst["x_star"]) < 1e-8)
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
    assert sp.rel_dist(x, base["x_bp"][0]) < 1e-3


def test_large_alpha_limit_approaches_min_l2(easy):
    inst, base = easy
    dists = [sp.rel_dist(limit(inst, 2, a)[0], base["x_l2"][0]) for a in (1.0, 10.0)]
    assert dists[1] < 1e-3
    assert dists[1] < dists[0] / 10  # the kernel regime is approached as alpha grows
    assert sp.rel_dist(limit(inst, 2, 10.0)[0], base["x_bp"][0]) > 0.1  # and it is not l1


def test_depth3_behaves_as_depth2_at_matching_alpha(easy):
    """Depth L starts at x-scale alpha^L, so depth 3 at alpha^3 = a^2 is matched to depth 2
    at a: same regime at both ends (l1 and l2), and the same interpolation in between."""
    inst, base = easy
    for a2, target, far, tol in ((1e-3, "x_bp", "x_l2", 1e-3), (10.0, "x_l2", "x_bp", 1e-4)):
        x2, _ = limit(inst, 2, a2)
        x3, _ = limit(inst, 3, a2 ** (2 / 3))
        for x in (x2, x3):
            assert sp.rel_dist(x, base[target][0]) < tol, (a2, target)
            assert sp.rel_dist(x, base[far][0]) > 0.1
        assert sp.rel_dist(x3, x2) < tol
    x2, _ = limit(inst, 2, 0.3)
    x3, _ = limit(inst, 3, 0.3 ** (2 / 3))
    for x in (x2, x3):
        assert 0.05 < sp.rel_dist(x, base["x_bp"][0]) < 0.9
        assert 0.05 < sp.rel_dist(x, base["x_l2"][0]) < 0.9
    assert sp.rel_dist(x3, x2) < 0.5 * min(sp.rel_dist(x2, base["x_bp"][0]), sp.rel_dist(x2, base["x_l2"][0]))


def test_batched_equals_per_trial():
    inst = sp.make_instances(30, 15, 2, 3, seed=5)
    stop = StopRule(max_steps=3000, tol_loss=1e-9, tol_change=0.0, check_every=50)
    alphas = [1e-2, 1.0]
    batched = sp.network_output(sp.train(inst, 2, alphas, stop, 0.5, CPU, progress=False), 2)
    for i in range(3):
        one = {k: v[i : i + 1] for k, v in inst.items()}
        for j, a in enumerate(alphas):
            single = sp.network_output(sp.train(one, 2, [a], stop, 0.5, CPU, progress=False), 2)[0, 0]
            np.testing.assert_allclose(batched[i, j], single, rtol=0, atol=1e-12)


def test_bad_problem_sizes_are_errors():
    from iloco.errors import IlocoError

    with pytest.raises(IlocoError, match="m < n"):
        sp.make_instances(10, 10, 2, 1, seed=0)
    with pytest.raises(IlocoError, match="k <= m"):
        sp.make_instances(10, 5, 6, 1, seed=0)
    with pytest.raises(IlocoError, match="alphas must be > 0"):
        sp.train(sp.make_instances(10, 5, 1, 1, seed=0), 2, [0.0], STOP, 0.5, CPU)
