"""The science of the ID family: identifying shallow networks from queries only."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from iloco.core.errors import IlocoError
from iloco.ident import networks as ident_networks
from iloco.ident import shallow


class Counted:
    """The raw network with its own query count, independent of the oracle's."""

    def __init__(self, nets):
        self.nets = nets
        self.count = np.zeros(nets.batch, dtype=np.int64)

    def __call__(self, x):
        self.count += x.shape[1]
        return self.nets.forward(x)


def make(batch, d, m, activation="tanh", nonortho=0.2, seed=1, noise=0.0):
    nets = ident_networks.shallow_networks(batch, d, m, activation, nonortho=nonortho, seed=seed)
    raw = Counted(nets)
    return nets, raw, ident_networks.Oracle(raw, d, batch, noise=noise, seed=seed)


@pytest.fixture(scope="module")
def exact():
    """d = m = 10, mildly non-orthogonal tanh networks, N_h = 13 > m central-difference
    Hessians with h = 1e-3 (truncation error ~h²·|f''''| ~ 1e-7, round-off ~1e-16/h² ~ 1e-10)."""
    nets, raw, oracle = make(4, 10, 10)
    res = shallow.identify_shallow(oracle, 10, 13, h=1e-3, scheme="central", restarts=100, n_fit=300)
    return nets, raw, oracle, res


def test_exact_recovery_of_tanh_networks(exact):
    nets, _, _, res = exact
    table = shallow.evaluate(nets, res, delta=1e-2, n_test=2000)
    assert len(table) == 4 and (table.recovered == 10).all() and table.complete.all()
    assert res.complete.all() and (res.certified == 10).all() and (table.spurious == 0).all()
    # The directions inherit the O(h²) ~ 1e-7 relative error of the Hessians; the fit with
    # them fixed leaves a function error of the same order (measured ~1e-8). 1e-5 leaves
    # two orders of margin, and is five orders below an unidentified network (~0.5).
    assert (table.uniform_rel_err < 1e-5).all() and (table.mean_rel_err < 1e-5).all()
    assert (1 - table.best_match_min < 1e-8).all()
    # parameters up to the symmetry of tanh: â = s·a, θ̂ = s·θ, b̂ = s·b with s = ±1
    net = res.net
    for i in range(4):
        cos = res.directions[i] @ nets.A[i]
        match = cos.abs().argmax(dim=0)
        s = torch.sign(cos[match, torch.arange(10)])
        torch.testing.assert_close(net.theta[i, match].detach(), s * nets.theta[i], rtol=0, atol=1e-4)
        torch.testing.assert_close(net.b[i, match].detach(), s * nets.b[i], rtol=0, atol=1e-4)
    assert net.c.detach().abs().max() < 1e-4


def test_query_count_is_the_formula_and_matches_an_independent_count(exact):
    _, raw, oracle, res = exact
    d, n_h, n_fit = 10, 13, 300
    expected = n_h * (2 * d * d + 1) + n_fit  # central: 4 per off-diagonal pair, 2 per diagonal, 1 centre
    assert (res.queries == expected).all() and (oracle.queries == expected).all() and (raw.count == expected).all()
    assert res.queries.dtype == np.int64 and res.params["queries_per_hessian"] == 2 * d * d + 1


def test_forward_scheme_count_and_chunked_calls():
    nets, raw, oracle = make(2, 6, 4)
    res = shallow.identify_shallow(oracle, 4, 7, h=1e-5, scheme="forward", n_fit=40)
    assert (raw.count == 7 * (7 * 8 // 2) + 40).all() and (res.queries == raw.count).all()
    assert shallow.evaluate(nets, res).complete.all()
    # a stage split into several oracle calls asks the same queries and gives the same Hessians
    # (up to the round-off of f, ~1e-16, amplified by 1/h²: the network's matmuls block differently)
    x = ident_networks.sphere_points(2, 5, 6, 1.0, seed=0, stream=9)
    one, many = ident_networks.oracle_of(nets), ident_networks.oracle_of(nets)
    H1 = ident_networks.fd_hessians(one, x, 1e-3)
    H2 = ident_networks.fd_hessians(many, x, 1e-3, max_elements=2 * 73 * 6)
    torch.testing.assert_close(H1, H2, rtol=0, atol=1e-8)
    assert (one.queries == many.queries).all() and (one.queries == 5 * 73).all()


def test_oracle_cannot_be_bypassed(exact):
    nets, raw, oracle, _ = exact
    public = {name for name in dir(oracle) if not name.startswith("_")}
    assert public == {"queries", "d", "batch", "device", "dtype"}
    for name in public:
        value = getattr(oracle, name)
        assert value is not nets and value is not raw and not callable(value)
    assert not hasattr(oracle, "__dict__")  # slots only: nothing can be parked on it
    with pytest.raises(AttributeError):
        oracle.d = 3
    with pytest.raises(AttributeError):
        oracle.network = nets
    count = oracle.queries
    count[:] = 0
    assert (oracle.queries > 0).all()  # a copy: the count cannot be reset from outside
    # identification takes the oracle only, never the network
    params = inspect.signature(shallow.identify_shallow).parameters
    assert list(params)[0] == "oracle" and not any("net" in p for p in params)
    with pytest.raises(IlocoError, match="Oracle"):
        shallow.identify_shallow(nets, 10, 13)
    with pytest.raises(IlocoError, match="shape"):
        oracle(torch.zeros(3, 2, 10, dtype=torch.float64))


def test_evaluation_does_not_query(exact):
    nets, raw, oracle, res = exact
    before = raw.count.copy()
    shallow.evaluate(nets, res, n_test=500, seed=3)
    assert (raw.count == before).all() and (oracle.queries == before).all()


@pytest.mark.parametrize("n_h", [5, 9])
def test_fewer_hessians_than_neurons_is_incomplete(n_h):
    nets, _, oracle = make(3, 10, 10)
    res = shallow.identify_shallow(oracle, 10, n_h, n_fit=200)
    table = shallow.evaluate(nets, res)
    assert (res.m_hat == n_h).all() and not res.span_complete.any()
    assert not res.complete.any() and not table.complete.any()
    # the search looks for all m weights even from an incomplete span (issue 15 item 4)
    assert (table.recovered <= res.n_found).all() and (res.n_found <= 10).all()


def test_width_estimated_by_the_singular_value_gap():
    nets, _, oracle = make(2, 8, 5)
    res = shallow.identify_shallow(oracle, None, 9, n_fit=100)
    assert (res.m_hat == 5).all() and res.complete.all()
    assert (res.singular_values[:, 4] / res.singular_values[:, 5] > 1e3).all()
    _, _, oracle = make(2, 8, 5)
    res = shallow.identify_shallow(oracle, None, 4, n_fit=100)
    assert not res.span_complete.any() and not res.complete.any()


@pytest.mark.parametrize("activation", ["sigmoid", "softplus"])
def test_other_activations_and_signs(activation):
    nets, _, oracle = make(3, 8, 6, activation)
    res = shallow.identify_shallow(oracle, 6, 9, activation=activation, restarts=60, n_fit=200)
    table = shallow.evaluate(nets, res)
    assert table.complete.all() and (table.uniform_rel_err < 1e-5).all()


def test_wide_regime():
    nets, _, oracle = make(2, 6, 9)  # m > d: uniform directions, m <= d(d-1)/2 = 15
    res = shallow.identify_shallow(oracle, 9, 12, restarts=150, n_fit=200)
    table = shallow.evaluate(nets, res)
    assert table.complete.all() and (table.uniform_rel_err < 1e-5).all()
    assert (table.gram_dev >= 9 / 6 - 1).all()


def test_noise_degrades_but_does_not_crash(exact):
    nets, _, _, clean = exact
    base = shallow.evaluate(nets, clean)
    for noise, h in ((1e-11, 1e-3), (1e-4, 3e-2)):
        _, _, oracle = make(4, 10, 10, noise=noise)
        res = shallow.identify_shallow(oracle, 10, 13, h=h, restarts=100, n_fit=300)
        table = shallow.evaluate(nets, res)
        assert np.isfinite(table.uniform_rel_err).all() and np.isfinite(res.singular_values).all()
        assert (table.recovered <= 10).all()
        assert table.uniform_rel_err.median() > base.uniform_rel_err.median()


def test_oracle_noise_is_seeded_and_of_the_given_level():
    nets = ident_networks.shallow_networks(2, 5, 3, seed=0)
    x = ident_networks.sphere_points(2, 4000, 5, 1.0, seed=0, stream=9)
    a, b = (ident_networks.oracle_of(nets, noise=1e-3, seed=4) for _ in range(2))
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb, rtol=0, atol=0)
    eps = (ya - nets.forward(x)) / 1e-3
    assert abs(float(eps.std()) - 1) < 0.05 and abs(float(eps.mean())) < 0.05


def test_oracle_noise_does_not_depend_on_call_split_or_batch():
    """The k-th query's noise is fixed by (seed, instance, k): the audit's fewer trials (other
    ``fd_hessians`` call sizes) must see the archive's answers."""
    nets = ident_networks.shallow_networks(3, 5, 3, seed=0)
    x = ident_networks.sphere_points(3, 9000, 5, 1.0, seed=0, stream=9)
    whole = ident_networks.oracle_of(nets, noise=1e-3, seed=4)(x)
    split = ident_networks.oracle_of(nets, noise=1e-3, seed=4)
    parts = torch.cat([split(x[:, a:b]) for a, b in ((0, 7), (7, 5000), (5000, 5001), (5001, 9000))], 1)
    # the networks' own values move by round-off with the call's shape; other noise would by ~1e-3
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-12)
    two = ident_networks.shallow_networks(2, 5, 3, seed=0)
    torch.testing.assert_close(ident_networks.oracle_of(two, noise=1e-3, seed=4)(x[:2]), whole[:2], rtol=0, atol=1e-12)


def test_fd_hessians_match_autograd_with_the_expected_order():
    nets = ident_networks.shallow_networks(2, 6, 5, nonortho=0.5, seed=2)
    x = ident_networks.sphere_points(2, 4, 6, 1.0, seed=0, stream=9)
    exact = ident_networks.autograd_hessians(nets.forward, x)
    # the autograd reference is itself the closed form Σ b_i g''(a_iᵀx + θ_i) a_i a_iᵀ
    z = x @ nets.A + nets.theta.unsqueeze(1)
    g2 = ident_networks.ACTIVATIONS["tanh"](z)[2] * nets.b.unsqueeze(1)
    closed = torch.einsum("bqi,bji,bki->bqjk", g2, nets.A, nets.A)
    torch.testing.assert_close(exact, closed, rtol=1e-12, atol=1e-12)
    errs = {}
    for scheme in ("central", "forward"):
        for h in (1e-2, 5e-3):
            H = ident_networks.fd_hessians(ident_networks.oracle_of(nets), x, h, scheme)
            assert torch.allclose(H, H.mT, rtol=0, atol=1e-9)
            errs[scheme, h] = float((H - exact).norm() / exact.norm())
    # halving h divides the error by 4 (central, O(h²)) and by 2 (forward, O(h))
    assert 3.2 < errs["central", 1e-2] / errs["central", 5e-3] < 4.8, errs
    assert 1.6 < errs["forward", 1e-2] / errs["forward", 5e-3] < 2.4, errs
    assert errs["central", 1e-2] < 1e-4 and errs["forward", 1e-2] < 5e-2


def test_instances_do_not_depend_on_the_batch():
    small = ident_networks.shallow_networks(2, 6, 4, nonortho=0.3, seed=5)
    big = ident_networks.shallow_networks(5, 6, 4, nonortho=0.3, seed=5)
    for key in ("A", "theta", "b"):
        torch.testing.assert_close(getattr(small, key), getattr(big, key)[:2], rtol=0, atol=0)
    rs = shallow.identify_shallow(ident_networks.oracle_of(small), 4, 6, n_fit=60)
    rb = shallow.identify_shallow(ident_networks.oracle_of(big), 4, 6, n_fit=60)
    torch.testing.assert_close(rs.directions, rb.directions[:2], rtol=0, atol=1e-10)
    x = ident_networks.sphere_points(2, 7, 6, 1.0, seed=0, stream=9)
    one = rb.net.instance(1)
    torch.testing.assert_close(one(x[1:2]), rb.net(torch.cat([x, x[:1].expand(3, -1, -1)]))[1:2])


def test_nonorthogonality_is_controlled():
    devs = [
        ident_networks.nonorthogonality(ident_networks.shallow_networks(20, 10, 10, nonortho=s, seed=0).A)
        for s in (0, 0.3, 1)
    ]
    assert devs[0]["gram_dev"].max() < 1e-12 and devs[0]["coherence"].max() < 1e-12
    assert devs[0]["gram_dev"].mean() < devs[1]["gram_dev"].mean() < devs[2]["gram_dev"].mean()
    assert devs[1]["coherence"].mean() < devs[2]["coherence"].mean() < 1
    nets = ident_networks.shallow_networks(3, 7, 5, seed=0)
    assert torch.allclose(nets.A.norm(dim=1), torch.ones(3, 5, dtype=torch.float64))
    assert (nets.b.abs() >= 1).all() and (nets.b.abs() <= 2).all()


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(IlocoError, match="tanh, sigmoid, softplus"):
        ident_networks.shallow_networks(1, 5, 3, activation="relu")
    for d, m in ((5, 0), (5, 11), (1, 1)):
        with pytest.raises(IlocoError, match="need"):
            ident_networks.shallow_networks(1, d, m)
    with pytest.raises(IlocoError, match="nonortho"):
        ident_networks.shallow_networks(1, 5, 3, nonortho=-1.0)
    with pytest.raises(IlocoError, match="seed"):
        ident_networks.shallow_networks(1, 5, 3, seed=-1)
    _, _, oracle = make(1, 5, 3)
    bad = [
        ({"m": 3, "n_hessians": 0}, "n_hessians"),
        ({"m": 3, "n_hessians": 4, "h": 0.0}, "step h"),
        ({"m": 3, "n_hessians": 4, "h": -1e-3}, "step h"),
        ({"m": 3, "n_hessians": 4, "scheme": "backward"}, "central, forward"),
        ({"m": 3, "n_hessians": 4, "restarts": 0}, "restarts"),
        ({"m": 11, "n_hessians": 4}, "d\\(d-1\\)/2"),
        ({"m": 3, "n_hessians": 4, "activation": "relu"}, "tanh, sigmoid, softplus"),
        ({"m": 3, "n_hessians": 4, "n_fit": 5}, "n_fit"),
        ({"m": 3, "n_hessians": 4, "radius": 0.0}, "radius"),
    ]
    for kwargs, msg in bad:
        with pytest.raises(IlocoError, match=msg) as err:
            shallow.identify_shallow(oracle, **kwargs)
        assert "\n" not in str(err.value)
    assert (oracle.queries == 0).all()  # every check happens before the first query
    with pytest.raises(IlocoError, match="noise"):
        ident_networks.Oracle(lambda x: x[..., 0], 5, 1, noise=-1.0)
