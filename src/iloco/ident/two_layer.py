"""ID2: networks with two hidden layers, their first-layer and entangled weights searched in
the span of Hessians taken near 0, and the evaluation against the true weights."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from iloco.core.errors import IlocoError
from iloco.ident.networks import (
    ACTIVATIONS,
    CPU,
    POINTS,
    NetBatch,
    Oracle,
    check_activation,
    check_seed,
    fd_hessians,
    generator,
    max_width,
    sphere_points,
    sym_vec,
)
from iloco.ident.shallow import match_directions
from iloco.ident.span import estimate_span, rank_one_search


# --------------------------------------------------------------------------- two hidden layers (ID2)
@dataclass
class TwoLayerNets(NetBatch):
    """B networks f(x) = Σ_ℓ g(b_ℓᵀ g(Aᵀx + θ) + τ_ℓ) = 1ᵀ g(Bᵀ g(Aᵀx + θ) + τ).

    A (B, d, m0) with unit columns, θ (B, m0), Bw (B, m0, m1) with unit columns, τ (B, m1).
    """

    A: torch.Tensor
    theta: torch.Tensor
    Bw: torch.Tensor
    tau: torch.Tensor
    activation: str

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs (B, q) at inputs x (B, q, d)."""
        g = ACTIVATIONS[self.activation]
        hidden = g(torch.bmm(x, self.A) + self.theta.unsqueeze(1))[0]
        return g(torch.bmm(hidden, self.Bw) + self.tau.unsqueeze(1))[0].sum(2)

    __call__ = forward

    def entangled(self) -> torch.Tensor:
        """The entangled weights v_ℓ = A diag(g'(θ)) b_ℓ / ‖·‖, (B, d, m1): the gradients of the
        second-layer pre-activations at x = 0, the directions the Hessians see there.

        ∇²f(x) = Σ_ℓ g''(z_ℓ) v_ℓ(x) v_ℓ(x)ᵀ + Σ_i (Σ_ℓ g'(z_ℓ) B_iℓ) g''(y_i) a_i a_iᵀ with
        v_ℓ(x) = A diag(g'(Aᵀx + θ)) b_ℓ, so near 0 the Hessians lie close to the
        (m0 + m1)-dimensional span of {a_i a_iᵀ} ∪ {v_ℓ v_ℓᵀ} (Fiedler, Fornasier, Klock,
        Rauchensteiner); how close depends on the radius of the Hessian points.
        """
        gp = ACTIVATIONS[self.activation](self.theta)[1]
        V = torch.bmm(self.A, gp.unsqueeze(2) * self.Bw)
        return V / V.norm(dim=1, keepdim=True)


def two_layer_networks(
    batch: int,
    d: int,
    m0: int,
    m1: int,
    activation: str = "tanh",
    seed: int = 0,
    theta_scale: float = 0.5,
    device: torch.device = CPU,
    dtype: torch.dtype = torch.float64,
) -> TwoLayerNets:
    """Draw B two-hidden-layer networks: A (d × m0) and Bw (m0 × m1) with Haar orthonormal
    columns (m1 ≤ m0 ≤ d, the setting of Fornasier, Klock, Rauchensteiner), biases θ, τ ~
    theta_scale·N(0, 1); instance i from the generator seeded by (seed, i)."""
    check_activation(activation)
    check_seed(seed)
    if not isinstance(d, int | np.integer) or d < 2:
        raise IlocoError(f"id: need input dimension d >= 2, got d={d}")
    if not (isinstance(m0, int | np.integer) and isinstance(m1, int | np.integer) and 1 <= m1 <= m0 <= d):
        raise IlocoError(f"id: two layers need 1 <= m1 <= m0 <= d, got d={d}, m0={m0}, m1={m1}")
    if m0 + m1 > max_width(d):
        raise IlocoError(f"id: two layers need m0 + m1 <= d(d-1)/2 = {max_width(d)}, got {m0 + m1}")
    if batch < 1:
        raise IlocoError(f"id: need batch >= 1, got {batch}")
    if not (theta_scale >= 0 and math.isfinite(theta_scale)):
        raise IlocoError(f"id: theta_scale must be finite and >= 0, got {theta_scale}")

    def haar(n, k, gen):
        q, r = torch.linalg.qr(torch.randn(n, k, generator=gen, dtype=torch.float64))
        return q * torch.sign(torch.diagonal(r)).unsqueeze(0)

    parts = []
    for i in range(batch):
        gen = generator(seed, i)
        A, Bw = haar(d, m0, gen), haar(m0, m1, gen)
        theta = theta_scale * torch.randn(m0, generator=gen, dtype=torch.float64)
        tau = theta_scale * torch.randn(m1, generator=gen, dtype=torch.float64)
        parts.append((A, theta, Bw, tau))
    to = {"device": device, "dtype": dtype}
    A, theta, Bw, tau = (torch.stack(p).to(**to) for p in zip(*parts, strict=True))
    return TwoLayerNets(A, theta, Bw, tau, activation)


@dataclass
class TwoLayerResult:
    """Directions found in the Hessians of two-layer networks, per instance: unit â_j (B, k, d)
    (zero rows where ``found`` is False), |λ| of each (closeness of its M to rank one), the
    singular values of the vectorized Hessians, whether N_h ≥ m0 + m1, the queries used and
    the hyper-parameters. The method does not label the layer of a direction; the evaluator
    matches them against both sets."""

    directions: torch.Tensor
    found: np.ndarray
    rank_one: np.ndarray
    singular_values: np.ndarray
    span_complete: np.ndarray
    queries: np.ndarray
    params: dict
    span_basis: torch.Tensor


def identify_two_layer(
    oracle: Oracle,
    m0: int,
    m1: int,
    n_hessians: int,
    h: float = 1e-3,
    scheme: str = "central",
    restarts: int | None = None,
    *,
    radius: float = 0.1,
    seed: int = 0,
    tol_rank: float = 0.3,
    max_elements: int = 2**22,
) -> TwoLayerResult:
    """First-layer weights a_i and entangled weights v_ℓ of two-layer networks from queries.

    Hessians by finite differences at ``n_hessians`` points on the sphere of radius ``radius``
    (small: the v_ℓ(x) drift with x), the top m0 + m1 left singular vectors as the span, and
    its rank-one elements by the projected power iteration of ``rank_one_search`` (``restarts``,
    default 5·(m0 + m1)). Returns at most m0 + m1 unlabeled directions.
    """
    if not isinstance(oracle, Oracle):
        raise IlocoError(f"id: identification takes an Oracle (query access only), got {type(oracle).__name__}")
    d = oracle.d
    check_seed(seed)
    if not (isinstance(m0, int | np.integer) and isinstance(m1, int | np.integer) and 1 <= m1 <= m0 <= d):
        raise IlocoError(f"id: two layers need 1 <= m1 <= m0 <= d, got d={d}, m0={m0}, m1={m1}")
    if not isinstance(n_hessians, int | np.integer) or n_hessians < 1:
        raise IlocoError(f"id: need n_hessians >= 1, got {n_hessians}")
    if not (radius > 0 and math.isfinite(radius)):
        raise IlocoError(f"id: radius must be finite and > 0, got {radius}")
    if not (h > 0 and math.isfinite(h)):
        raise IlocoError(f"id: finite-difference step h must be finite and > 0, got {h}")
    start = oracle.queries
    k = m0 + m1
    pts = sphere_points(oracle.batch, n_hessians, d, radius, seed, POINTS, oracle.device, oracle.dtype)
    span = estimate_span(fd_hessians(oracle, pts, h, scheme, max_elements), k)
    r = 5 * min(k, n_hessians) if restarts is None else restarts
    rank1 = rank_one_search(span, r, seed, tol_rank=tol_rank)
    params = {"n_hessians": int(n_hessians), "h": float(h), "scheme": scheme, "restarts": int(r), "radius": radius}
    return TwoLayerResult(
        rank1.directions,
        rank1.found,
        rank1.rank_one,
        span.singular_values,
        span.complete,
        oracle.queries - start,
        params,
        span.basis,
    )


def evaluate_two_layer(nets: TwoLayerNets, result: TwoLayerResult, delta: float) -> pd.DataFrame:
    """The evaluator's view of ``identify_two_layer``, one row per instance: first-layer weights
    and entangled weights recovered (matched up to sign with ‖· ∓ ·‖ ≤ δ), their worst best
    matches, found directions matching neither, the span's singular-value gap
    s_{m0+m1} / s_{m0+m1+1} (∞ when the Hessians had no more directions), and ``span_error``,
    the sine of the largest principal angle between the estimated span and the true
    W = span{a_i a_iᵀ, v_ℓ v_ℓᵀ} (how far the Hessians are from the model's span)."""
    if not delta > 0:
        raise IlocoError(f"id: delta must be > 0, got {delta}")
    m0, m1 = nets.A.shape[2], nets.Bw.shape[2]
    first, first_hit, first_best = match_directions(result.directions, result.found, nets.A, delta)
    V = nets.entangled()
    ent, ent_hit, ent_best = match_directions(result.directions, result.found, V, delta)
    both, both_hit, _ = match_directions(result.directions, result.found, torch.cat([nets.A, V], 2), delta)
    T = torch.cat([nets.A, V], 2)
    Q, _ = torch.linalg.qr(sym_vec(torch.einsum("bdk,bek->bkde", T, T)).mT)  # true W, (B, D, m0+m1)
    U = sym_vec(result.span_basis.to(Q)).mT  # estimated span, (B, D, k)
    span_err = torch.linalg.matrix_norm(U - Q @ (Q.mT @ U), ord=2).cpu().numpy()
    s = result.singular_values
    k = m0 + m1
    gap = s[:, k - 1] / np.maximum(s[:, k], 1e-300) if s.shape[1] > k else np.full(len(s), np.inf)
    n_found = result.found.sum(axis=1)
    p = result.params
    return pd.DataFrame(
        {
            "instance": np.arange(nets.batch),
            "d": nets.d,
            "m0": m0,
            "m1": m1,
            "activation": nets.activation,
            "n_hessians": p["n_hessians"],
            "radius": p["radius"],
            "h": p["h"],
            "restarts": p["restarts"],
            "n_found": n_found,
            "first_recovered": first,
            "entangled_recovered": ent,
            "first_frac": first / m0,
            "entangled_frac": ent / m1,
            "complete": (first == m0) & (ent == m1),
            "span_complete": result.span_complete,
            "spurious": n_found - both_hit,
            "first_best_min": first_best,
            "entangled_best_min": ent_best,
            "span_gap": gap,
            "span_error": span_err,
            "queries": result.queries,
        }
    )


def run_two_layer(spec: dict, seed: int, device: torch.device = CPU, progress: bool = True) -> pd.DataFrame:
    """The ID2 sweep: widths (m0, m1) × N_h, ``spec['trials']`` networks per width identified as
    one batch; cells of one width see the same networks (paired over N_h)."""
    from tqdm import tqdm

    rows = []
    cells = [(m0, m1, nh) for m0, m1 in spec["widths"] for nh in spec["n_hessians"]]
    for m0, m1, nh in tqdm(cells, desc="ID2", file=sys.stderr, disable=not progress):
        nets = two_layer_networks(
            spec["trials"], spec["d"], m0, m1, spec["activation"], seed, spec["theta_scale"], device
        )
        oracle = Oracle(nets.forward, nets.d, nets.batch, 0.0, seed, device)
        t0 = time.perf_counter()
        res = identify_two_layer(
            oracle,
            m0,
            m1,
            nh,
            spec["h"],
            spec["scheme"],
            spec["restarts_per_width"] * min(m0 + m1, nh),
            radius=spec["radius"],
            seed=seed,
        )
        table = evaluate_two_layer(nets, res, spec["delta"])
        table["wall_time_s"] = (time.perf_counter() - t0) / spec["trials"]
        rows.append(table)
    return pd.concat(rows, ignore_index=True)
