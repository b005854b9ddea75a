"""The NL family, NL1: GD on separable data against the hard-margin SVM (Soudry et al. 2018)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iloco.core.errors import IlocoError
from iloco.ident import chain
from iloco.nl import analysis, rich_lazy, separable


@pytest.fixture(scope="module")
def soudry_run():
    """Soudry's Figure 1 data, both losses, 10^5 GD steps with step 1/‖Z‖²."""
    X, y = separable.soudry_data(48, seed=0)
    Z = torch.as_tensor((y[:, None] * X)[None])
    ts = separable.log_steps(100_000, 8)
    run = separable.train_linear(Z, ["logistic", "exp"], 1.0, ts)
    return X, y, separable.trajectories("soudry", X[None], y[None], run, ["logistic", "exp"])


def test_svm_of_soudry_data_has_the_expected_margin():
    X, y = separable.soudry_data(48, seed=0)
    w = separable.hard_margin_svm(X, y)
    assert np.allclose(w, [0.5, 0.5], atol=1e-6)
    margins = y * (X @ w)
    assert margins.min() == pytest.approx(1.0, abs=1e-6)
    assert (np.sort(margins)[:4] < 1 + 1e-6).all() and (np.sort(margins)[4:] > 1.4).all()  # 4 support vectors


def test_loss_decays_like_one_over_t(soudry_run):
    """Fitted exponent of the loss over the last decade: −1 asymptotically; −0.89 at t = 10^5
    (the log log t corrections), so the tolerance is 0.15."""
    _, _, tr = soudry_run
    for _, g in tr.groupby("loss_fn"):
        assert analysis.loss_exponent(g["t"].to_numpy(), g["loss"].to_numpy()) == pytest.approx(-1.0, abs=0.15)


def test_norm_slope_per_decade_matches_the_svm_norm(soudry_run):
    """‖w(t)‖ grows by ln(10)·‖ŵ‖ per decade asymptotically; at t ∈ [10^4, 10^5] the measured
    slope is within 20 % (it approaches from below, by a log log t correction), and it grows
    towards the prediction from decade to decade."""
    _, _, tr = soudry_run
    target = math.log(10) * math.sqrt(0.5)
    for _, g in tr.groupby("loss_fn"):
        t, norm = g["t"].to_numpy(), g["w_norm"].to_numpy()
        last = analysis.norm_slope_per_decade(t, norm)
        assert last == pytest.approx(target, rel=0.2)
        earlier = analysis.norm_slope_per_decade(t[t <= 10_000], norm[t <= 10_000])
        assert earlier < last < target


def test_direction_turns_to_the_svm(soudry_run):
    _, _, tr = soudry_run
    for _, g in tr.groupby("loss_fn"):
        g = g.sort_values("t")
        assert g["angle"].iloc[-1] < 0.03 and g["angle"].iloc[-1] < g["angle"].iloc[len(g) // 2]
        assert g["margin"].iloc[-1] == pytest.approx(g["svm_margin"].iloc[0], rel=0.02)


def test_batched_equals_single():
    X1, y1 = separable.random_separable(20, 4, 0.2, seed=1)
    X2, y2 = separable.random_separable(20, 4, 0.2, seed=2)
    Z = torch.as_tensor(np.stack([y1[:, None] * X1, y2[:, None] * X2]))
    both = separable.train_linear(Z, ["logistic"], 1.0, [10, 100])
    one = separable.train_linear(Z[1:], ["logistic"], 1.0, [10, 100])
    assert np.allclose(both["w"][1], one["w"][0], rtol=0, atol=1e-13)


def test_bad_inputs():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 0.0]])
    y = np.array([1.0, 1.0, -1.0])  # +x and -x in the same class: nothing through 0 separates them
    with pytest.raises(IlocoError, match="not linearly separable"):
        separable.hard_margin_svm(X, y)
    Z = torch.ones(1, 3, 2, dtype=torch.float64)
    with pytest.raises(IlocoError, match="loss 'hinge'"):
        separable.train_linear(Z, ["hinge"], 1.0, [10])
    with pytest.raises(IlocoError, match="recording steps must increase"):
        separable.train_linear(Z, ["exp"], 1.0, [10, 5])


@pytest.mark.parametrize("arch", separable.ARCHS)
def test_networks_are_homogeneous_of_their_degree(arch):
    X = torch.randn(1, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    p = separable.init_homogeneous(arch, 1, 2, 3, 4, 1.0, seed=1)
    f1 = separable._homogeneous_forward(p, X, arch)
    f2 = separable._homogeneous_forward({k: 2 * v for k, v in p.items()}, X, arch)
    assert torch.allclose(f2, 2 ** separable.degree(arch) * f1, rtol=1e-12)


@pytest.mark.parametrize("arch", separable.ARCHS)
def test_hand_gradients_equal_autograd(arch):
    """The hand-written gradients of every architecture, mixed losses in one batch, against
    autograd on the same forward pass (some ReLU units dead at init)."""
    g = torch.Generator().manual_seed(2)
    X = torch.randn(3, 30, 6, dtype=torch.float64, generator=g)
    y = torch.sign(torch.randn(3, 30, dtype=torch.float64, generator=g))
    losses = ["logistic", "exp"]
    p = separable.init_homogeneous(arch, 3, 2, 6, 7, 1.0, seed=1)
    ps = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    total = separable._per_loss(y.unsqueeze(1) * separable._homogeneous_forward(ps, X, arch), losses).sum()
    auto = dict(zip(ps, torch.autograd.grad(total, list(ps.values())), strict=True))
    hand, _ = separable._homogeneous_grads({"X": X, "Xt": X.transpose(1, 2).contiguous(), "y": y, **p}, arch, losses)
    assert set(hand) == set(auto)
    for k in auto:
        assert torch.allclose(hand[k], auto[k], rtol=1e-12, atol=1e-14), k


def test_deep_linear_turns_to_the_svm_and_relu_margin_rises():
    X, y = separable.random_separable(40, 5, 0.2, seed=3)
    Xt, yt = torch.as_tensor(X[None]), torch.as_tensor(y[None])
    svm = separable.hard_margin_svm(X, y)
    ts = separable.log_steps(5000, 3)
    run = separable.train_homogeneous(
        Xt, yt, "linear2", separable.init_homogeneous("linear2", 1, 1, 5, 8, 0.3, 0), ["exp"], 0.01, ts
    )
    w = run["end_to_end"][0, :, 0]
    cos = w @ svm / np.linalg.norm(w, axis=1) / np.linalg.norm(svm)
    assert cos[-1] > 0.99 and cos[-1] > cos[len(cos) // 2]
    relu = separable.train_homogeneous(
        Xt, yt, "relu2", separable.init_homogeneous("relu2", 1, 1, 5, 20, 0.3, 0), ["exp"], 0.01, ts
    )
    q = relu["margin"][0, :, 0]
    assert q[-1] > 0 and q[-1] > q[len(q) // 2]
    with pytest.raises(IlocoError, match="architecture 'cnn'"):
        separable.init_homogeneous("cnn", 1, 1, 5, 8, 0.3, 0)


def test_rank_measures_and_direction_clusters():
    rng = np.random.default_rng(0)
    u = rng.standard_normal(6)
    W = np.outer(u, rng.uniform(0.5, 1.5, 10))  # ten neurons along one direction
    assert analysis.effective_rank(W) == pytest.approx(1.0, abs=1e-6) and analysis.stable_rank(W) == pytest.approx(1.0)
    assert analysis.direction_clusters(W, np.ones(10)) == 1
    assert analysis.effective_rank(np.eye(5)) == pytest.approx(5.0)
    assert analysis.direction_clusters(np.eye(5), np.ones(5)) == 5


def test_small_init_is_rich_and_large_init_is_lazy():
    spec = dict(
        teachers=2,
        d=6,
        teacher_width=2,
        width=30,
        n_train=100,
        n_test=300,
        init_scales=[1e-3, 4.0],
        lr=0.2,
        max_steps=3000,
        tol_loss=1e-6,
        dtype="float64",
    )
    t = (
        rich_lazy.run_teacher_regimes(spec, seed=1, device=torch.device("cpu"))
        .groupby("init_scale")
        .median(numeric_only=True)
    )
    assert t.loc[1e-3, "effective_rank"] < t.loc[4.0, "effective_rank"] / 2
    assert t.loc[1e-3, "directions"] < t.loc[4.0, "directions"] / 2
    assert t.loc[1e-3, "rel_change"] > 10 and t.loc[4.0, "rel_change"] < 0.3


def test_students_stop_at_a_share_of_what_the_linear_fit_leaves():
    """NL2's equal-loss rule: the tolerance is a share of each teacher's linear residual (an
    affine target has none; a tanh teacher's is its nonlinear part), and a converged student's
    training loss is at most that share of it."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2, 50, 4, generator=g, dtype=torch.float64)
    affine = X @ torch.tensor([1.0, -2.0, 0.5, 0.0], dtype=torch.float64) + 3.0
    assert chain.linear_residual(X, affine).max() < 1e-20
    assert (chain.linear_residual(X, torch.tanh(2 * X).sum(2)) > 1e-3).all()
    spec = dict(teachers=3, d=5, teacher_width=2, width=10, n_train=50, n_test=100, init_scales=[1e-2, 1.0], lr=0.2)
    spec["dtype"] = "float64"
    t = rich_lazy.run_teacher_regimes({**spec, "max_steps": 400, "tol_loss": 0.3}, seed=2, device=torch.device("cpu"))
    done = t[t["status"] == "converged"]
    assert len(done) and (done["unfit_share"] <= 0.3).all()
    np.testing.assert_allclose(t["train_loss"], t["unfit_share"] * t["linear_residual"], rtol=1e-12)
    assert (done["train_loss"] <= 0.3 * done["linear_residual"] * (1 + 1e-12)).all()


def test_truncation_at_full_rank_leaves_accuracy_unchanged():
    spec = dict(test_fraction=0.3, hidden=8, init_scales=[1.0], seeds=1, lr=0.1, steps=50, ranks=[2, 8])
    spec["dtype"] = "float64"
    t = rich_lazy.run_digits(spec, seed=0)
    tr = t[t["kind"] == "truncation"].set_index("rank")
    Xtr, ytr, Xte, yte = rich_lazy.digits_data(0.3, 0)
    p = rich_lazy.train_digits(Xtr, ytr, 8, [1.0], 1, 0.1, 50, 0)
    untruncated = float((rich_lazy._mlp_logits(p, Xte).argmax(3) == yte).double().mean())
    assert tr.loc[8, "accuracy"] == pytest.approx(untruncated, abs=1e-12)
    assert tr.loc[8, "params_kept"] == tr.loc[8, "params_total"]
    assert torch.allclose(rich_lazy.truncate(p["W2"], 8), p["W2"], atol=1e-12)
    with pytest.raises(IlocoError, match="test_fraction"):
        rich_lazy.digits_data(1.5, 0)


def test_float32_training_reports_what_float64_reports():
    """NL2 trains in float32 at paper scale (about twice as fast on a CPU) and reports in
    float64. On the same teachers, inits and steps (a setting in no config: seed 31, a lazy,
    a standard and a rich scale), float32 students stop at the same checks with the same
    status, and the reported ranks, directions, movement and test errors agree within what
    the figure and the macros resolve; on digits, the same accuracies within half a point."""
    spec = dict(teachers=3, d=8, teacher_width=2, width=40, n_train=150, n_test=400, init_scales=[1e-3, 0.1, 1.0])
    spec.update(lr=0.2, max_steps=4000, tol_loss=0.5)
    cpu = torch.device("cpu")
    t64, t32 = (rich_lazy.run_teacher_regimes({**spec, "dtype": dt}, 31, cpu) for dt in ("float64", "float32"))
    assert (t32["status"] == t64["status"]).all() and (t64["status"] == "converged").mean() >= 0.5
    assert (t32["steps"] == t64["steps"]).all() and (t32["directions"] == t64["directions"]).all()
    for col in ("effective_rank", "stable_rank", "rel_change", "test_rel_mse"):  # measured: 3e-6 at most
        np.testing.assert_allclose(t32[col], t64[col], rtol=1e-4, err_msg=col)
    dspec = dict(test_fraction=0.3, hidden=16, init_scales=[0.3, 1.0], seeds=2, lr=0.1, steps=300, ranks=[2, 8])
    d64, d32 = (rich_lazy.run_digits({**dspec, "dtype": dt}, 31) for dt in ("float64", "float32"))
    acc = d64["kind"] == "truncation"
    assert (d32.loc[acc, "accuracy"] - d64.loc[acc, "accuracy"]).abs().max() <= 0.005
    sig = d64["kind"] == "spectrum_W1"
    np.testing.assert_allclose(d32.loc[sig, "sigma"], d64.loc[sig, "sigma"], rtol=1e-3, atol=1e-6)
