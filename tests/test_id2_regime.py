"""ID2 regime: where two-hidden-layer identification from Hessian spans works, and why not elsewhere."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from iloco.core.errors import IlocoError
from iloco.ident import figures, networks, two_layer
from iloco.ident import regime as R
from iloco.ident import span as ident_span


def _span_angles(nets, x, k):
    """Principal angles of the top-k span of exact (autograd) Hessians at x to W0."""
    H = networks.autograd_hessians(nets.forward, x)
    span = ident_span.estimate_span(H, k)
    return R.principal_angles(nets, span.basis), span.singular_values


def test_drift_zero_at_origin_and_grows_with_radius():
    nets = two_layer.two_layer_networks(3, 10, 5, 2, "tanh", seed=0, theta_scale=0.1)
    zero = R.drift(nets, torch.zeros(3, 4, 10, dtype=torch.float64))
    assert np.allclose(zero["drift_G"], 0) and np.allclose(zero["drift_v"], 0, atol=1e-7)
    small = R.drift(nets, networks.sphere_points(3, 8, 10, 0.01, 0, 1))
    large = R.drift(nets, networks.sphere_points(3, 8, 10, 1.0, 0, 1))
    assert (small["drift_v"] < 1e-3).all() and (large["drift_v"] > 10 * small["drift_v"]).all()


def test_principal_angles_of_true_span_are_zero():
    nets = two_layer.two_layer_networks(2, 8, 4, 2, "tanh", seed=3, theta_scale=0.1)
    T = torch.cat([nets.A, nets.entangled()], 2)
    Q, _ = torch.linalg.qr(networks.sym_vec(torch.einsum("bdk,bek->bkde", T, T)).mT)
    basis = networks.sym_unvec(Q.mT, 8)
    assert np.abs(R.principal_angles(nets, basis)).max() < 1e-6


def test_first_order_span_has_m0_plus_one_directions_in_W0():
    """Near 0 the Hessians span, to first order, m0 + 1 directions of W0 with error ~ shift²;
    with m1 = 1 that is all of W0, with m1 = 2 one direction stays O(1) away at every radius."""
    for m1, r in ((1, 0.01), (2, 0.01), (2, 0.001)):
        nets = two_layer.two_layer_networks(8, 10, 5, m1, "tanh", seed=0, theta_scale=0.01)
        ang, s = _span_angles(nets, networks.sphere_points(8, 14, 10, r, 0, 1), 5 + m1)
        assert np.median(ang[:, 5]) < 0.01  # the (m0+1)-th principal angle: first-order span in W0
        if m1 == 1:
            assert np.median(ang[:, -1]) < 0.01
        else:
            assert np.median(ang[:, -1]) > 0.3  # the missing direction: not reached by shrinking r
            # and its singular value is second order: it drops by ~(r ratio) relative to the others
            assert np.median(s[:, 6] / s[:, 5]) < 50 * r


def test_span_error_scales_with_shift_squared_for_one_entangled_weight():
    """m1 = 1: the first-order drift h''(τ)g''(θ) ≈ 4τθ sets the span error: ×10 shifts, ×~100 error."""
    x = networks.sphere_points(12, 12, 10, 0.003, 0, 1)
    med = []
    for s in (0.003, 0.03):
        nets = two_layer.two_layer_networks(12, 10, 5, 1, "tanh", seed=0, theta_scale=s)
        med.append(np.median(_span_angles(nets, x, 6)[0][:, -1]))
    assert 30 < med[1] / med[0] < 300


@pytest.fixture(scope="module")
def sweep():
    spec = {"trials": 6, "d": [10], "widths": [[5, 1], [5, 2]], "theta_scale": [0.01], "radius": [0.01, "sqrt_d"]}
    spec |= {"activation": "tanh", "hessians_per_width": 2, "h": 1e-3, "scheme": "central"}
    spec |= {"restarts_per_width": 10, "delta": 5e-2}  # the quick config's method settings
    return R.regime_sweep(spec, seed=0, progress=False)


def test_regime_sweep_table(sweep):
    assert len(sweep) == 6 * 2 * 2
    for col in (
        "d",
        "m0",
        "m1",
        "theta_scale",
        "radius",
        "instance",
        "first_frac",
        "entangled_frac",
        "complete",
        "max_angle",
        "completeness",
        "drift_G",
        "drift_v",
        "span_dirs_ok",
        "queries",
    ):
        assert col in sweep.columns
    assert set(np.round(sweep["radius"], 6)) == {0.01, round(math.sqrt(10), 6)}
    assert (sweep["completeness"].between(0, 1)).all()


def test_regime_m1_one_recovers_m1_two_does_not(sweep):
    t = sweep
    near = t["radius"] == 0.01
    one, two = t[near & (t["m1"] == 1)], t[near & (t["m1"] == 2)]
    assert one["complete"].all()
    assert not two["complete"].any()
    assert (two["span_dirs_ok"] == 6).all()  # m0 + 1 of the m0 + m1 = 7 directions
    far = t[~near]
    assert not far["complete"].any() and (far["drift_v"] > 0.3).all()


def test_state_regime(sweep):
    claim = R.state_regime(sweep)
    assert claim["reproduced"] and claim["negative_m1_ge_2"]
    assert claim["worst_complete_in_regime"] == 1.0 and claim["best_complete_m1_ge_2"] == 0.0
    # a table where the regime fails is not called reproduced
    bad = sweep.copy()
    bad.loc[(bad["m1"] == 1), "complete"] = False
    assert not R.state_regime(bad)["reproduced"]


def test_regime_summary_and_plot(sweep, tmp_path):
    s = R.regime_summary(sweep)
    assert len(s) == 4 and (s["networks"] == 6).all()
    ax = figures.id2_regime(sweep)
    ax.figure.savefig(tmp_path / "regime.pdf")
    assert (tmp_path / "regime.pdf").stat().st_size > 0


def test_bad_radius():
    with pytest.raises(IlocoError):
        R._radius(-1, 10)
    assert R._radius("sqrt_d", 16) == 4.0
