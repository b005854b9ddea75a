"""ID1: with the width m known, the rank-one search looks for m directions even from N_h < m Hessians."""

from __future__ import annotations

import numpy as np
import torch

from iloco.ident import networks, shallow

SEED = 20240501


def test_orthonormal_networks_recovered_from_fewer_hessians_than_neurons():
    """d = m = 20, N_h = 18, orthonormal weights: the span has 18 dimensions, yet the search
    returns up to m = 20 directions, all exact (eigenvectors of elements of W), and some
    networks of the seeded batch are complete; the method itself certifies none (N_h < m)."""
    nets = networks.shallow_networks(4, 20, 20, "tanh", 0.0, SEED, 0.5, torch.device("cpu"))
    res = shallow.identify_shallow(networks.oracle_of(nets), 20, 18, restarts=200, seed=SEED)
    assert res.found.shape[1] == 20
    assert (res.m_hat == 18).all() and not res.span_complete.any()
    assert res.n_found.max() > 18
    table = shallow.evaluate(nets, res, 1e-2, 200, SEED)
    assert (table["spurious"] == 0).all()
    np.testing.assert_array_equal(table["recovered"], res.n_found)
    assert table["complete"].sum() >= 1
    assert not res.complete.any()
