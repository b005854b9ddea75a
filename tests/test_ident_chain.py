"""The ID family beyond ID1: two hidden layers (ID2), the student trainer, the chain from
trained networks to compact ones, and the Adam baseline on the same query budget (ID3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iloco.core import engine
from iloco.core.errors import IlocoError
from iloco.ident import chain, networks, two_layer
from iloco.ident import span as ident_span


# ----------------------------------------------------------------------------- ID2
def test_entangled_weights_are_the_second_layer_gradients_at_zero():
    nets = two_layer.two_layer_networks(3, 6, 4, 2, "tanh", seed=2, theta_scale=0.5)
    x = torch.zeros(3, 1, 6, dtype=torch.float64, requires_grad=True)
    g = networks.ACTIVATIONS["tanh"]
    z = torch.bmm(g(torch.bmm(x, nets.A) + nets.theta.unsqueeze(1))[0], nets.Bw) + nets.tau.unsqueeze(1)
    V = nets.entangled()
    for ell in range(2):
        (grad,) = torch.autograd.grad(z[:, 0, ell].sum(), x, retain_graph=True)
        v = grad[:, 0] / grad[:, 0].norm(dim=1, keepdim=True)
        assert torch.allclose(v, V[:, :, ell], atol=1e-12)


def test_two_layer_hessians_near_zero_lie_in_the_model_span():
    """With zero biases (g''(0) = 0 kills the first-order cross terms) the Hessians leave
    span{a_i a_iᵀ, v_ℓ v_ℓᵀ} only at second order in the radius (the drift of v_ℓ(x)): the
    relative residual is ~2e-3 at radius 0.1, drops 4× when the radius halves, and is
    large at radius 1."""
    nets = two_layer.two_layer_networks(2, 12, 5, 2, "tanh", seed=3, theta_scale=0.0)
    V = nets.entangled()
    T = torch.cat([nets.A, V], 2)
    Q, _ = torch.linalg.qr(networks.sym_vec(torch.einsum("bdk,bek->bkde", T, T)).mT)

    def resid(radius):
        pts = networks.sphere_points(2, 20, 12, radius, 0, 1)
        h = networks.sym_vec(networks.autograd_hessians(nets.forward, pts))
        return float(((h - h @ Q @ Q.mT).norm(dim=2) / h.norm(dim=2)).max())

    r1, r2 = resid(0.1), resid(0.05)
    assert r1 < 2e-3 and 3.5 < r1 / r2 < 4.5
    assert resid(1.0) > 1e-2


def test_two_layer_identification_counts_queries_and_reports():
    nets = two_layer.two_layer_networks(2, 6, 4, 2, "tanh", seed=1, theta_scale=0.1)
    oracle = networks.Oracle(nets.forward, 6, 2)
    res = two_layer.identify_two_layer(oracle, 4, 2, 8, radius=0.3, restarts=20)
    assert (res.queries == 8 * (2 * 36 + 1)).all()
    assert (res.found.sum(axis=1) <= 6).all() and res.span_complete.all()
    table = two_layer.evaluate_two_layer(nets, res, 0.05)
    assert set(table.columns) >= {"first_frac", "entangled_frac", "span_error", "spurious"}
    assert ((table["first_frac"] >= 0) & (table["first_frac"] <= 1)).all()
    assert ((table["span_error"] >= 0) & (table["span_error"] <= 1 + 1e-9)).all()
    few = two_layer.identify_two_layer(networks.Oracle(nets.forward, 6, 2), 4, 2, 3, radius=0.3)
    assert not few.span_complete.any()  # N_h < m0 + m1 is never a complete span


def test_two_layer_bad_inputs():
    with pytest.raises(IlocoError, match="1 <= m1 <= m0 <= d"):
        two_layer.two_layer_networks(1, 5, 3, 4)
    with pytest.raises(IlocoError, match="1 <= m1 <= m0 <= d"):
        two_layer.two_layer_networks(1, 5, 6, 2)
    with pytest.raises(IlocoError, match="activation 'relu'"):
        two_layer.two_layer_networks(1, 5, 3, 2, "relu")
    nets = two_layer.two_layer_networks(1, 5, 3, 2)
    with pytest.raises(IlocoError, match="Oracle"):
        two_layer.identify_two_layer(nets.forward, 3, 2, 5)


# ----------------------------------------------------------------------------- trainer
def _student(R=2, C=3, d=4, m=5, n=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(R, n, d, generator=g, dtype=torch.float64)
    y = torch.randn(R, n, generator=g, dtype=torch.float64)
    W = torch.randn(R, C, d, m, generator=g, dtype=torch.float64)
    c = torch.randn(R, C, m, generator=g, dtype=torch.float64)
    b = torch.randn(R, C, m, generator=g, dtype=torch.float64)
    return X, y, W, c, b


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus"])
def test_student_gradients_match_autograd(activation):
    X, y, W, c, b = _student()
    params = [p.clone().requires_grad_(True) for p in (W, c, b)]
    f = chain._student_forward(X.unsqueeze(1), *params, activation)[0]
    (0.5 * ((f - y.unsqueeze(1)) ** 2).mean(2)).sum().backward()
    mine = chain.student_gradients(X.unsqueeze(1), y.unsqueeze(1), W, c, b, activation)
    for p, g in zip(params, mine, strict=True):
        assert torch.allclose(p.grad, g, rtol=1e-10, atol=1e-12)
    X1 = chain._ones_column(X.unsqueeze(1).expand(*W.shape[:2], *X.shape[1:]))
    torch.testing.assert_close(chain.student_outputs(X1, W, c, b, activation), f.detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("optimizer,lr", [("gd", 0.05), ("adam", 1e-2)])
def test_trainer_lowers_the_loss_and_cells_are_independent(optimizer, lr):
    X, y, W, c, b = _student()
    stop = engine.StopRule(max_steps=300, tol_loss=0.0, tol_change=0.0, check_every=50)
    kw = {"activation": "tanh", "optimizer": optimizer, "lr": lr, "stop": stop, "progress": False}
    res = chain.train_students(X, y, W, c, b, **kw)
    init = ((chain._student_forward(X.unsqueeze(1), W, c, b, "tanh")[0] - y.unsqueeze(1)) ** 2).mean(2) / (y * y).mean(
        1, keepdim=True
    )
    assert (res.loss < init.numpy()).all()
    # one cell of one row alone ends where it ends in the batch (no coupling across the batch)
    one = chain.train_students(X[1:], y[1:], W[1:, 2:], c[1:, 2:], b[1:, 2:], **kw)
    assert torch.allclose(one.state["W"][0, 0], res.state["W"][1, 2], rtol=0, atol=1e-12)


def test_mini_batches_are_the_same_for_every_row_and_full_batch_when_large():
    """Mini-batch Adam (the baseline): a row alone takes the steps it takes in the batch (the
    indices depend on the key and the epoch, not on the rows); a batch as large as the data is
    the full-batch step; and the cosine decay changes the steps."""
    X, y, W, c, b = _student()
    n = X.shape[1]
    stop = engine.StopRule(max_steps=60, tol_loss=0.0, tol_change=0.0, check_every=20)
    kw = {"activation": "tanh", "optimizer": "adam", "lr": 1e-2, "stop": stop, "progress": False}
    mini = chain.train_students(X, y, W, c, b, batch_size=n // 3, batch_key=(7,), cosine=True, **kw)
    one = chain.train_students(X[1:], y[1:], W[1:], c[1:], b[1:], batch_size=n // 3, batch_key=(7,), cosine=True, **kw)
    assert torch.allclose(one.state["W"], mini.state["W"][1:], rtol=0, atol=1e-12)
    other = chain.train_students(X, y, W, c, b, batch_size=n // 3, batch_key=(8,), cosine=True, **kw)
    assert not torch.allclose(other.state["W"], mini.state["W"], rtol=0, atol=1e-9)
    full = chain.train_students(X, y, W, c, b, **kw)
    assert torch.equal(chain.train_students(X, y, W, c, b, batch_size=n, **kw).state["W"], full.state["W"])
    cos = chain.train_students(X, y, W, c, b, cosine=True, **kw)
    assert not torch.allclose(cos.state["W"], full.state["W"], rtol=0, atol=1e-9)


def test_trainer_keeps_training_the_rows_left_when_one_row_stops():
    """A teacher whose students all reach the tolerance leaves the batch (the engine drops its
    row); the rows left train on as they would alone (their inputs went with them)."""
    X, y, W, c, b = _student(R=3, C=1)
    y[0] = 0.01 * y[0] + chain._student_forward(X[:1].unsqueeze(1), W[:1, :1], c[:1, :1], b[:1, :1], "tanh")[0][0, 0]
    kw = {"activation": "tanh", "optimizer": "gd", "lr": 0.05, "progress": False}
    free = chain.train_students(X, y, W, c, b, stop=engine.StopRule(200, 0.0, 0.0, 10), **kw)
    # row 0's targets are nearly its first student's outputs: a tolerance it reaches early
    tol = float(free.loss[0].max()) * 2
    assert (free.loss[1:].min(1) > tol).all()
    res = chain.train_students(X, y, W, c, b, stop=engine.StopRule(200, tol, 0.0, 10), **kw)
    assert res.status[0, 0] == engine.STATUS.index("converged") and res.steps[0, 0] < 200
    assert (res.steps[1:] == 200).all()
    assert torch.allclose(res.state["W"][1:], free.state["W"][1:], rtol=0, atol=1e-12)


def test_trainer_rejects_unknown_optimizer_and_bad_lr():
    X, y, W, c, b = _student()
    stop = engine.StopRule(10, 0.0, 0.0, 5)
    with pytest.raises(IlocoError, match="optimizer 'sgd'"):
        chain.train_students(X, y, W, c, b, activation="tanh", optimizer="sgd", lr=0.1, stop=stop)
    with pytest.raises(IlocoError, match="learning rate"):
        chain.train_students(X, y, W, c, b, activation="tanh", optimizer="gd", lr=-1.0, stop=stop)


# ----------------------------------------------------------------------------- the chain
def _padded_students(teachers: networks.ShallowNets, width: int, seed: int = 0):
    """Wide networks that compute exactly the teacher: each teacher neuron split into
    width/m copies with output weights summing to b_i (same direction, same bias)."""
    T, d, m = teachers.A.shape
    reps = width // m
    g = torch.Generator().manual_seed(seed)
    share = torch.rand(T, m, reps, generator=g, dtype=torch.float64) + 0.5
    share = share / share.sum(2, keepdim=True)
    W = teachers.A.repeat_interleave(reps, dim=2)
    c = teachers.theta.repeat_interleave(reps, dim=1)
    b = (teachers.b.unsqueeze(2) * share).reshape(T, m * reps)
    return W, c, b


def test_chain_identifies_a_wide_network_that_is_a_narrow_one():
    """A width-24 network that computes a width-3 teacher is identified as width 3 from queries,
    its compact network matches it to 1e-6, and the compression ratio is 24·(d+2)/(3·(d+2)+1)."""
    d, m, width = 8, 3, 24
    teachers = networks.shallow_networks(3, d, m, "tanh", nonortho=0.0, seed=5)
    W, c, b = _padded_students(teachers, width)
    arrays = {
        "teacher_A": teachers.A.numpy(),
        "teacher_theta": teachers.theta.numpy(),
        "teacher_b": teachers.b.numpy(),
        "W": W.unsqueeze(1).numpy(),
        "c": c.unsqueeze(1).numpy(),
        "b": b.unsqueeze(1).numpy(),
        "scales": np.array([1.0]),
        "tol_loss": np.array(0.0),
        "linear_residual": np.ones(3),
        "train_loss": np.zeros((3, 1)),
        "steps": np.zeros((3, 1), dtype=np.int64),
        "status": np.ones((3, 1), dtype=np.int8),
    }
    spec = {
        "activation": "tanh",
        "identify": {"n_hessians": 8, "h": 1e-3, "scheme": "central", "rank_tol": 1e-3, "restarts": 30},
        "baseline": {"restarts": 2, "lr": 1e-2, "steps": 50, "tol_loss": 0.0, "batch_size": 64},
        "delta": 1e-2,
        "n_test": 500,
    }
    table = chain.identify_chain(arrays, spec, seed=0, progress=False)
    ide = table[table["method"] == "identification"]
    assert (ide["width"] == m).all() and (ide["m_hat"] == m).all()
    assert (ide["recovered"] == m).all()
    assert (ide["vs_student_mean"] < 1e-6).all()
    assert np.allclose(ide["compression"], width * (d + 2) / (m * (d + 2) + 1))
    adam = table[table["method"] == "adam"]
    assert (adam["queries"] == ide["queries"].to_numpy()).all()  # the same budget
    assert (adam["width"] == m).all()


def _small_chain(teachers: int, width: int, max_steps: int, tol_loss: float) -> dict:
    """A seconds-long ID3 training spec: width-2 teachers in d = 4, 60 inputs, two init scales."""
    return {
        "activation": "tanh",
        "d": 4,
        "teachers": teachers,
        "teacher_width": 2,
        "nonortho": 0.0,
        "theta_scale": 0.5,
        "student_width": width,
        "n_train": 60,
        "init_scales": [0.01, 1.0],
        "train": {"lr": 0.5, "max_steps": max_steps, "tol_loss": tol_loss, "check_every": 100},
    }


def test_train_chain_small_run_is_seeded_and_learns():
    spec = _small_chain(teachers=2, width=6, max_steps=400, tol_loss=0.0)
    a = chain.train_chain(spec, seed=3, progress=False)
    b = chain.train_chain(spec, seed=3, progress=False)
    for key in chain.CHAIN_KEYS:
        assert np.array_equal(a[key], b[key]), key
    assert a["W"].shape == (2, 2, 4, 6)
    assert (a["train_loss"] < 0.5).all()  # relative MSE, from ~1 at init


def test_chain_students_stop_at_a_share_of_the_linear_residual():
    """ID3's equal-loss rule (NL2's): a converged student's relative training error is at most
    tol_loss times what the affine fit leaves on its teacher's data, and it stopped there, not
    at the step budget; the residual is the teacher's, the same for every scale."""
    spec = _small_chain(teachers=3, width=8, max_steps=3000, tol_loss=0.5)
    a = chain.train_chain(spec, seed=3, progress=False)
    lin = a["linear_residual"]
    assert lin.shape == (3,) and (lin > 0).all()
    done = a["status"] == engine.CONVERGED
    assert done.any() and (a["steps"][done] < 3000).all()
    assert (a["train_loss"][done] <= 0.5 * np.broadcast_to(lin[:, None], done.shape)[done] * (1 + 1e-12)).all()
    # without the rule (tol 0) every student runs to its budget and fits further
    free = chain.train_chain(_small_chain(teachers=3, width=8, max_steps=3000, tol_loss=0.0), seed=3, progress=False)
    assert (free["steps"] == 3000).all() and (free["train_loss"][done] < a["train_loss"][done]).all()


# ----------------------------------------------------------------------------- budget
def test_identification_beats_adam_on_the_same_budget():
    spec = {
        "activation": "tanh",
        "d": 6,
        "m": 6,
        "trials": 2,
        "nonortho": 0.0,
        "theta_scale": 0.5,
        "n_hessians": [3, 8],
        "h": 1e-3,
        "scheme": "central",
        "restarts_per_width": 10,
        "delta": 1e-2,
        "n_test": 500,
        "baseline": {"restarts": 2, "lr": 1e-2, "steps": 300, "tol_loss": 0.0, "batch_size": 128},
    }
    t = chain.run_budget(spec, seed=1, progress=False)
    at = {meth: g.set_index(["n_hessians", "instance"]) for meth, g in t.groupby("method")}
    assert (at["identification"]["queries"] == at["adam"]["queries"]).all()
    full = at["identification"].loc[8]
    assert full["complete"].all() and (full["uniform_rel_err"] < 1e-5).all()
    assert not at["identification"].loc[3]["complete"].any()  # N_h < m: incomplete
    assert (at["adam"].loc[8]["uniform_rel_err"] > 10 * full["uniform_rel_err"]).all()


def test_budget_spec_takes_the_shared_settings():
    cfg = {
        "activation": "tanh",
        "nonortho": 0.1,
        "theta_scale": 0.5,
        "n_test": 10,
        "baseline": {"restarts": 1},
        "identify": {"h": 1e-3, "scheme": "central", "rank_tol": 0.1},
        "budget": {"d": 5, "m": 5, "trials": 1, "n_hessians": [5], "restarts_per_width": 3, "delta": 0.01},
    }
    spec = chain.budget_spec(cfg)
    assert spec["h"] == 1e-3 and spec["m"] == 5 and spec["nonortho"] == 0.1 and "rank_tol" not in spec
    assert math.isclose(spec["delta"], 0.01)


def test_width_by_numerical_rank():
    nets = networks.shallow_networks(2, 6, 3, seed=4)
    pts = networks.sphere_points(2, 8, 6, 1.0, 0, 1)
    H = networks.autograd_hessians(nets.forward, pts)
    span = ident_span.estimate_span(H, None, rank_tol=1e-6)
    assert (span.m_hat == 3).all() and span.complete.all()
    with pytest.raises(IlocoError, match="rank_tol"):
        ident_span.estimate_span(H, None, rank_tol=1.5)
