"""ID family: identification of shallow networks from the fewest queries.

A shallow network f(x) = Σ_i b_i g(a_iᵀx + θ_i) (unit-norm a_i, smooth g) has Hessians
∇²f(x) = Σ_i b_i g''(a_iᵀx + θ_i) a_i a_iᵀ, all in the m-dimensional space W = span{a_i a_iᵀ}.
Finite differences of queries at N_h points give approximate Hessians; the top left singular
vectors of their matrix give W; a projected power iteration finds the rank-one elements of W,
i.e. the a_i up to sign; a small least-squares fit on further queries gives θ, b and a
constant (Fornasier, Vybíral, Daubechies, Inf. Inference 2021; Fornasier, Klock, Rauchensteiner
for the projected iteration with a step γ). With N_h < m the Hessians cannot span W: the
result then says so and never claims success.

The method sees the network only through an ``Oracle``, which counts queries per instance;
the evaluator alone sees the true network. Everything is batched over B independent instances
(leading dimension), float64 by default, and the same code runs on CPU and CUDA: random draws
are made on the CPU by per-instance generators seeded from (seed, instance, stream), so an
instance's result does not depend on the batch it is run in, nor on the device.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from iloco.errors import IlocoError

CPU = torch.device("cpu")

# Random streams of one instance: (seed, instance) draws the network; the method and the
# evaluator draw from (seed, instance, stream).
_POINTS, _RESTARTS, _FIT, _TEST, _NOISE, _DATA, _STUDENT, _ADAM = range(1, 9)


def _int_seed(*key: int) -> int:
    """A 64-bit torch seed from a tuple of non-negative integers (numpy SeedSequence)."""
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1, dtype=np.uint64)[0])


def _generator(*key: int) -> torch.Generator:
    return torch.Generator(device=CPU).manual_seed(_int_seed(*key))


def _check_seed(seed: int) -> None:
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise IlocoError(f"id: seed must be a non-negative integer, got {seed!r}")


def sphere_points(
    batch: int,
    n: int,
    d: int,
    radius: float,
    seed: int,
    stream: int,
    device: torch.device = CPU,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``n`` points uniform on the sphere of radius ``radius`` in R^d per instance, shape (B, n, d).

    Instance i draws from the stream (seed, i, stream) on the CPU in float64.
    """
    pts = []
    for i in range(batch):
        g = torch.randn(n, d, generator=_generator(seed, i, stream), dtype=torch.float64)
        pts.append(radius * g / g.norm(dim=1, keepdim=True))
    return torch.stack(pts).to(device=device, dtype=dtype)


# --------------------------------------------------------------------------- activations
def _tanh(z):
    t = torch.tanh(z)
    dt = 1 - t * t
    return t, dt, -2 * t * dt


def _sigmoid(z):
    s = torch.sigmoid(z)
    ds = s * (1 - s)
    return s, ds, ds * (1 - 2 * s)


def _softplus(z):
    s = torch.sigmoid(z)
    return torch.nn.functional.softplus(z), s, s * (1 - s)


#: Smooth activations with g'' ≠ 0 almost everywhere (the Hessians must see every neuron):
#: name → z ↦ (g(z), g'(z), g''(z)). ReLU has g'' = 0 almost everywhere and is not allowed.
ACTIVATIONS: dict[str, Callable] = {"tanh": _tanh, "sigmoid": _sigmoid, "softplus": _softplus}


def _check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise IlocoError(f"id: activation {name!r} is not one of {', '.join(ACTIVATIONS)} (smooth, g'' not ≡ 0)")


def max_width(d: int) -> int:
    """The largest width allowed in R^d: d(d−1)/2.

    A dimension count puts the limit of identifiability from the span there: the rank-one
    symmetric matrices form a d-dimensional cone in the d(d+1)/2-dimensional space of
    symmetric matrices, so an m-dimensional span meets it in a set of dimension at least
    d + m − d(d+1)/2, which exceeds the m lines of the a_i a_iᵀ once m > d(d−1)/2.
    """
    return d * (d - 1) // 2


def _check_width(d: int, m: int) -> None:
    if not isinstance(d, int | np.integer) or d < 2:
        raise IlocoError(f"id: need input dimension d >= 2, got d={d}")
    if not isinstance(m, int | np.integer) or not 1 <= m <= max_width(d):
        raise IlocoError(f"id: need 1 <= m <= d(d-1)/2 = {max_width(d)} (identifiable width), got m={m}")


def _forward(x, A, theta, b, activation, c=None):
    """Σ_i b_i g(a_iᵀx + θ_i) (+ c) for x (B, q, d), A (B, d, k), θ, b (B, k), c (B,)."""
    z = torch.bmm(x, A) + theta.unsqueeze(1)
    out = torch.bmm(ACTIVATIONS[activation](z)[0], b.unsqueeze(2)).squeeze(2)
    return out if c is None else out + c.unsqueeze(1)


# --------------------------------------------------------------------------- networks
class _Batch:
    """Batch size and input dimension of networks whose first-layer weights A are (B, d, ·)."""

    A: torch.Tensor

    @property
    def batch(self) -> int:
        return self.A.shape[0]

    @property
    def d(self) -> int:
        return self.A.shape[1]


@dataclass
class ShallowNets(_Batch):
    """B true networks f(x) = Σ_i b_i g(a_iᵀx + θ_i): A (B, d, m) with unit columns, θ, b (B, m)."""

    A: torch.Tensor
    theta: torch.Tensor
    b: torch.Tensor
    activation: str

    @property
    def m(self) -> int:
        return self.A.shape[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs (B, q) at inputs x (B, q, d)."""
        return _forward(x, self.A, self.theta, self.b, self.activation)

    __call__ = forward


def shallow_networks(
    batch: int,
    d: int,
    m: int,
    activation: str = "tanh",
    nonortho: float = 0.0,
    seed: int = 0,
    theta_scale: float = 0.5,
    device: torch.device = CPU,
    dtype: torch.dtype = torch.float64,
) -> ShallowNets:
    """Draw B networks with controllable non-orthogonality of their weights.

    For m ≤ d, a_i = normalize(q_i + nonortho·g_i) with (q_i) orthonormal (QR of a Gaussian,
    Haar) and g_i i.i.d. N(0, I/d): nonortho = 0 gives orthonormal weights, nonortho ≈ 1 a
    perturbation as large as q_i. Both q and g are drawn whatever ``nonortho``, so one seed
    gives a continuous path of networks in it. For m > d (wide regime) a_i is uniform on the
    sphere and ``nonortho`` is ignored. Output weights b_i = ±U[1, 2] (random sign, bounded
    away from 0 so every neuron matters); biases θ_i ~ theta_scale·N(0, 1). Instance i uses
    the generator seeded from (seed, i), so it does not change when ``batch`` grows.
    """
    _check_activation(activation)
    _check_width(d, m)
    _check_seed(seed)
    if batch < 1:
        raise IlocoError(f"id: need batch >= 1, got {batch}")
    if not (nonortho >= 0 and math.isfinite(nonortho)):
        raise IlocoError(f"id: nonortho must be finite and >= 0, got {nonortho}")
    if not (theta_scale >= 0 and math.isfinite(theta_scale)):
        raise IlocoError(f"id: theta_scale must be finite and >= 0, got {theta_scale}")
    As, thetas, bs = [], [], []
    for i in range(batch):
        gen = _generator(seed, i)
        f64 = torch.float64
        if m <= d:
            q, r = torch.linalg.qr(torch.randn(d, m, generator=gen, dtype=f64))
            q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
            A = q + nonortho * torch.randn(d, m, generator=gen, dtype=f64) / math.sqrt(d)
        else:
            A = torch.randn(d, m, generator=gen, dtype=f64)
        As.append(A / A.norm(dim=0, keepdim=True))
        thetas.append(theta_scale * torch.randn(m, generator=gen, dtype=f64))
        sign = torch.where(torch.rand(m, generator=gen, dtype=f64) < 0.5, -1.0, 1.0)
        bs.append(sign * (1 + torch.rand(m, generator=gen, dtype=f64)))
    to = {"device": device, "dtype": dtype}
    return ShallowNets(torch.stack(As).to(**to), torch.stack(thetas).to(**to), torch.stack(bs).to(**to), activation)


def nonorthogonality(A: torch.Tensor) -> dict[str, np.ndarray]:
    """How far the unit columns of A (B, d, m) are from orthonormal, per instance.

    ``gram_dev`` = ‖AᵀA − I‖₂ (spectral norm; at least m/d − 1 when m > d, where the columns
    cannot be orthonormal), ``coherence`` = max_{i≠j} |⟨a_i, a_j⟩|.
    """
    G = A.mT @ A
    eye = torch.eye(G.shape[-1], dtype=G.dtype, device=G.device)
    off = (G - eye).abs()
    coh = off.amax(dim=(1, 2)) if G.shape[-1] > 1 else torch.zeros(G.shape[0], dtype=G.dtype)
    return {
        "gram_dev": torch.linalg.matrix_norm(G - eye, ord=2).cpu().numpy(),
        "coherence": coh.cpu().numpy(),
    }


# --------------------------------------------------------------------------- oracle
class Oracle:
    """Query access to B networks, and nothing else: f(x) for x (B, q, d), counted per instance.

    The function is held in a private closure, never in a public attribute (the public ones
    are ``queries``, ``d``, ``batch``, ``device``, ``dtype``), so code that is handed an
    oracle cannot reach the network. Every call adds q to each instance's count
    (``queries``, a copy). With ``noise`` > 0, each answer gets independent N(0, noise²)
    noise, drawn on the CPU from per-instance generators seeded from (seed, instance).
    """

    __slots__ = ("__query", "__count", "__d", "__batch", "__device", "__dtype")

    def __init__(
        self,
        f: Callable[[torch.Tensor], torch.Tensor],
        d: int,
        batch: int,
        noise: float = 0.0,
        seed: int = 0,
        device: torch.device = CPU,
        dtype: torch.dtype = torch.float64,
    ):
        if not (noise >= 0 and math.isfinite(noise)):
            raise IlocoError(f"id: oracle noise must be finite and >= 0, got {noise}")
        _check_seed(seed)
        gens = [_generator(seed, i, _NOISE) for i in range(batch)]

        def query(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                y = f(x)
            if tuple(y.shape) != tuple(x.shape[:2]):
                raise IlocoError(f"id: the network returned shape {tuple(y.shape)}, expected {tuple(x.shape[:2])}")
            if noise > 0:
                eps = torch.stack([torch.randn(x.shape[1], generator=g, dtype=torch.float64) for g in gens])
                y = y + noise * eps.to(device=y.device, dtype=y.dtype)
            return y.detach()

        self.__query = query
        self.__count = np.zeros(batch, dtype=np.int64)
        self.__d, self.__batch, self.__device, self.__dtype = d, batch, torch.device(device), dtype

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) (+ noise), shape (B, q), for x of shape (B, q, d); adds q queries per instance."""
        if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[0] != self.__batch or x.shape[2] != self.__d:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise IlocoError(f"id: oracle queries must have shape (B={self.__batch}, q, d={self.__d}), got {shape}")
        y = self.__query(x.to(device=self.__device, dtype=self.__dtype))
        self.__count += x.shape[1]
        return y

    @property
    def queries(self) -> np.ndarray:
        """Queries answered so far, per instance (int64, shape (B,)); a copy."""
        return self.__count.copy()

    @property
    def d(self) -> int:
        return self.__d

    @property
    def batch(self) -> int:
        return self.__batch

    @property
    def device(self) -> torch.device:
        return self.__device

    @property
    def dtype(self) -> torch.dtype:
        return self.__dtype


def oracle_of(nets: ShallowNets, noise: float = 0.0, seed: int = 0) -> Oracle:
    """An oracle answering with ``nets`` (kept in the oracle's closure, out of reach)."""
    return Oracle(nets.forward, nets.d, nets.batch, noise, seed, nets.A.device, nets.A.dtype)


# --------------------------------------------------------------------------- Hessians
SCHEMES = ("central", "forward")


def queries_per_hessian(d: int, scheme: str) -> int:
    """Queries of one finite-difference Hessian in R^d: 2d² + 1 (central), (d+1)(d+2)/2 (forward)."""
    if scheme == "central":
        return 2 * d * d + 1
    if scheme == "forward":
        return (d + 1) * (d + 2) // 2
    raise IlocoError(f"id: scheme {scheme!r} is not one of {', '.join(SCHEMES)}")


def _stencil(d: int, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    """Offsets O (Q, d) in units of h, and weights C (Q, d·d) in units of 1/h²: H ≈ f(x + hO) C / h².

    ``central`` (error O(h²)): H_jj = [f(x+he_j) − 2f(x) + f(x−he_j)]/h² (3-point rule; the
    5-point-wide rule with 2h has the same query count and a 4× larger error constant) and
    H_jk = [f(x+he_j+he_k) − f(x+he_j−he_k) − f(x−he_j+he_k) + f(x−he_j−he_k)]/(4h²), j < k.
    ``forward`` (error O(h), about d²/2 queries): H_jk = [f(x+he_j+he_k) − f(x+he_j) −
    f(x+he_k) + f(x)]/h², j ≤ k (j = k: the point x + 2he_j).
    """
    e = np.eye(d)
    offs, rows = [np.zeros(d)], []  # rows: (offset index, j, k, weight)

    def add(off):
        offs.append(off)
        return len(offs) - 1

    if scheme == "central":
        for j in range(d):
            p, q = add(e[j]), add(-e[j])
            rows += [(p, j, j, 1.0), (q, j, j, 1.0), (0, j, j, -2.0)]
        for j in range(d):
            for k in range(j + 1, d):
                for sj, sk in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                    idx = add(sj * e[j] + sk * e[k])
                    rows += [(idx, j, k, sj * sk / 4), (idx, k, j, sj * sk / 4)]
    elif scheme == "forward":
        single = [add(e[j]) for j in range(d)]
        for j in range(d):
            for k in range(j, d):
                idx = add(e[j] + e[k])
                pairs = [(j, k)] if j == k else [(j, k), (k, j)]
                for a, b in pairs:
                    rows += [(idx, a, b, 1.0), (single[j], a, b, -1.0), (single[k], a, b, -1.0), (0, a, b, 1.0)]
    else:
        queries_per_hessian(d, scheme)  # raises
    C = np.zeros((len(offs), d * d))
    for idx, j, k, w in rows:
        C[idx, j * d + k] += w
    return np.stack(offs), C


def fd_hessians(
    oracle: Oracle, points: torch.Tensor, h: float, scheme: str = "central", max_elements: int = 2**22
) -> torch.Tensor:
    """Finite-difference Hessians (B, N, d, d) of the oracle's networks at ``points`` (B, N, d).

    Uses exactly N·queries_per_hessian(d, scheme) queries per instance, all instances in one
    oracle call; a stage of more than ``max_elements`` numbers (B·q·d; 32 MiB in float64 by
    default) is split into calls over groups of points, with the same queries: that bounds
    memory (B = 20, d = 20, N_h = 40: 0.9 GB peak in one call, 0.57 GB in four) and is no
    slower on a CPU; raise it on a GPU.
    """
    if not (h > 0 and math.isfinite(h)):
        raise IlocoError(f"id: finite-difference step h must be finite and > 0, got {h}")
    B, N, d = points.shape
    offs, C = _stencil(d, scheme)
    offs = torch.as_tensor(offs, device=points.device, dtype=points.dtype) * h
    C = torch.as_tensor(C, device=points.device, dtype=points.dtype) / (h * h)
    Q = offs.shape[0]
    per_call = max(1, max_elements // (B * Q * d))
    out = []
    for s in range(0, N, per_call):
        x = points[:, s : s + per_call]
        n = x.shape[1]
        y = oracle((x.unsqueeze(2) + offs).reshape(B, n * Q, d)).reshape(B, n, Q)
        out.append((y @ C).reshape(B, n, d, d))
    return torch.cat(out, dim=1)


def autograd_hessians(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Exact Hessians (B, q, d, d) of a batched f: (B, q, d) → (B, q) by autograd (a test reference).

    Each output depends on its own input only, so d backward passes of the summed gradient
    give every Hessian row at once.
    """
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        rows = [torch.autograd.grad(g[..., k].sum(), x, retain_graph=True)[0] for k in range(x.shape[-1])]
    return torch.stack(rows, dim=-2).detach()


# --------------------------------------------------------------------------- span
def sym_vec(H: torch.Tensor) -> torch.Tensor:
    """Upper triangles (..., d(d+1)/2) of symmetric (..., d, d), off-diagonals × √2: an isometry
    for the Frobenius inner product."""
    d = H.shape[-1]
    i, j = torch.triu_indices(d, d, device=H.device)
    w = torch.where(i == j, 1.0, math.sqrt(2)).to(H.dtype)
    return H[..., i, j] * w


def sym_unvec(v: torch.Tensor, d: int) -> torch.Tensor:
    """Inverse of ``sym_vec``: symmetric (..., d, d) from (..., d(d+1)/2)."""
    i, j = torch.triu_indices(d, d, device=v.device)
    w = torch.where(i == j, 1.0, 1 / math.sqrt(2)).to(v.dtype)
    H = v.new_zeros((*v.shape[:-1], d, d))
    H[..., i, j] = v * w
    H[..., j, i] = v * w
    return H


@dataclass
class Span:
    """Estimated W per instance: Frobenius-orthonormal symmetric basis (B, k, d, d), zero beyond
    ``m_hat`` (B,); singular values (B, min(D, N)) of the vectorized Hessians; ``complete``
    (B,): the Hessians can have spanned W (N ≥ m, or a singular-value gap was seen)."""

    basis: torch.Tensor
    m_hat: np.ndarray
    singular_values: np.ndarray
    complete: np.ndarray


def estimate_span(H: torch.Tensor, m: int | None = None, gap: float = 1e3, rank_tol: float | None = None) -> Span:
    """Top left singular vectors of the matrix of vectorized Hessians H (B, N, d, d).

    With the width ``m`` known, keep min(m, N) of them (complete iff N ≥ m). With m = None,
    estimate it per instance: with ``rank_tol``, as the number of s_k ≥ rank_tol·s_1 (the
    numerical rank, for networks that are only close to a narrow one, e.g. trained ones;
    complete iff that is < N, i.e. the Hessians saturated); otherwise as the k < rank
    maximizing s_k / s_{k+1}, provided that ratio is at least ``gap``; with no such gap all N
    are kept and the span is reported incomplete (the Hessians have not saturated W).
    """
    B, N, d, _ = H.shape
    U, S, _ = torch.linalg.svd(sym_vec(H).mT, full_matrices=False)
    s = S.cpu().numpy()
    r = s.shape[1]
    if m is not None:
        m_hat = np.full(B, min(m, N), dtype=np.int64)
        complete = np.full(B, N >= m)
    elif rank_tol is not None:
        if not 0 < rank_tol < 1:
            raise IlocoError(f"id: rank_tol must be in (0, 1), got {rank_tol}")
        m_hat = np.maximum((s >= rank_tol * s[:, :1]).sum(axis=1), 1).astype(np.int64)
        complete = m_hat < r
        m_hat = np.minimum(m_hat, max_width(d))
    else:
        ratio = s[:, :-1] / np.maximum(s[:, 1:], np.finfo(float).tiny) if r > 1 else np.zeros((B, 0))
        best = ratio.argmax(axis=1) if r > 1 else np.zeros(B, dtype=np.int64)
        complete = (ratio.max(axis=1) >= gap) if r > 1 else np.zeros(B, dtype=bool)
        m_hat = np.where(complete, best + 1, r).astype(np.int64)
        m_hat = np.minimum(m_hat, max_width(d))
    k = int(m_hat.max())
    keep = torch.as_tensor(np.arange(k)[None, :] < m_hat[:, None], device=H.device)
    basis = sym_unvec(U[:, :, :k].mT, d) * keep[:, :, None, None].to(H.dtype)
    return Span(basis, m_hat, s, complete)


# --------------------------------------------------------------------------- rank-one search
@dataclass
class RankOne:
    """Directions (B, k, d) (zero rows where ``found`` (B, k) is False), the top |eigenvalue|
    of each kept candidate (its closeness to rank one), and per instance the number of
    restarts accepted and the iterations run."""

    directions: torch.Tensor
    found: np.ndarray
    rank_one: np.ndarray
    accepted: np.ndarray
    iterations: int


def _top_eig(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalue of largest magnitude and its unit eigenvector, batched over symmetric M (..., d, d)."""
    vals, vecs = torch.linalg.eigh(M)
    idx = vals.abs().argmax(dim=-1, keepdim=True)
    lam = vals.gather(-1, idx).squeeze(-1)
    u = vecs.gather(-1, idx.unsqueeze(-2).expand(*vecs.shape[:-1], 1)).squeeze(-1)
    return lam, u


def rank_one_search(
    span: Span,
    restarts: int,
    seed: int = 0,
    variant: str = "plain",
    gamma: float = 2.0,
    tol: float = 1e-10,
    max_iter: int = 500,
    tol_rank: float = 0.3,
    dedup_tol: float = 1e-3,
) -> RankOne:
    """Rank-one elements of the span by projected power iteration, batched over instances × restarts.

    Start from a random unit-Frobenius element M of W (Gaussian coefficients in the span's
    basis, stream (seed, i, restarts)); with (λ, u) the eigenpair of M of largest |λ| iterate
    ``plain``: M ← sign(λ)·P_W(uuᵀ), or ``gamma``: M ← M + γ·sign(λ)·P_W(uuᵀ), each normalized
    to unit Frobenius norm (for unit M, |λ| = 1 iff M = ±uuᵀ; each step does not decrease |λ|
    at a fixed sign). Work in the coefficients c of M, ‖M‖_F = ‖c‖; P_W(uuᵀ) has coefficients
    uᵀW_k u. A restart stops when ‖M_{k+1} − M_k‖_F < tol (then it drops out of the batch) or
    after ``max_iter`` steps. Its u is a candidate if |λ| ≥ 1 − tol_rank: the default 0.3
    asks that one eigenvector carry about half of ‖M‖²_F or more (λ² ≥ 0.49). Not more: with
    (near-)orthonormal weights every eigenvector of every M ∈ W is (near) an a_i, so a
    local maximizer gives a true direction even when the span is incomplete (N_h < m) and M
    is far from rank one. ``rank_one`` (|λ|) tells how close to rank one each kept M is;
    success is only claimed for |λ| ≈ 1 (see ``identify_shallow``). Candidates, taken by
    decreasing |λ|, are kept unless |⟨u, u'⟩| ≥ 1 − dedup_tol with one already kept (same
    direction up to sign), at most m_hat per instance.
    """
    if variant not in ("plain", "gamma"):
        raise IlocoError(f"id: rank-one variant {variant!r} is not one of plain, gamma")
    if not isinstance(restarts, int | np.integer) or restarts < 1:
        raise IlocoError(f"id: need restarts >= 1, got {restarts}")
    W = span.basis
    B, k, d, _ = W.shape
    Wf = W.reshape(B, k, d * d)
    mask = torch.as_tensor(np.arange(k)[None, :] < span.m_hat[:, None], device=W.device).to(W.dtype)
    c0 = torch.stack([torch.randn(restarts, k, generator=_generator(seed, i, _RESTARTS)) for i in range(B)])
    c = c0.to(device=W.device, dtype=W.dtype) * mask.unsqueeze(1)
    c = c / c.norm(dim=2, keepdim=True)
    active = torch.ones(B, restarts, dtype=torch.bool, device=W.device)
    prev = c.new_zeros(B, restarts)  # |λ| at the previous step
    rise = c.new_full((B, restarts), math.inf)  # its last increase
    it = 0
    while it < max_iter and bool(active.any()):
        it += 1
        # compact: each instance's active restarts first, as many columns as the busiest instance has
        width = int(active.sum(1).max())
        cols = torch.argsort(active.to(torch.int8), dim=1, descending=True, stable=True)[:, :width]
        idx = active.gather(1, cols).nonzero(as_tuple=True)
        at = (idx[0], cols[idx])  # the same rows in (instance, restart) coordinates
        cs = c.gather(1, cols.unsqueeze(2).expand(B, width, k))
        lam, u = _top_eig(torch.bmm(cs, Wf)[idx].reshape(-1, d, d))
        U = c.new_zeros(B, width, d)
        U[idx] = u
        p = torch.bmm((U.unsqueeze(3) * U.unsqueeze(2)).reshape(B, width, d * d), Wf.mT)[idx]
        s = torch.sign(lam).unsqueeze(1)
        new = s * p if variant == "plain" else cs[idx] + gamma * s * p
        new = new / new.norm(dim=1, keepdim=True)
        moved = (new - cs[idx]).norm(dim=1)
        c[at] = new
        a = lam.abs()
        up = (a - prev[at]).clamp_min(0)
        # |λ| never decreases; a restart whose increase slows down and, at that rate, cannot reach
        # 1 − tol_rank within max_iter would be rejected anyway: stop it
        hopeless = (up <= rise[at]) & (1 - tol_rank - a > up * (max_iter - it))
        prev[at], rise[at] = a, up
        active[at] = (moved >= tol) & ~hopeless
    lam, u = _top_eig(torch.bmm(c, Wf).reshape(B, restarts, d, d))
    lam, u = lam.abs().cpu(), u.cpu()
    directions = torch.zeros(B, k, d, dtype=u.dtype)
    found = np.zeros((B, k), dtype=bool)
    rank_one = np.full((B, k), np.nan)
    accepted = np.zeros(B, dtype=np.int64)
    for i in range(B):
        order = torch.argsort(lam[i], descending=True)
        ok = order[lam[i, order] >= 1 - tol_rank]
        accepted[i] = ok.numel()
        kept: list[int] = []
        for r in ok.tolist():
            if len(kept) >= span.m_hat[i]:
                break
            if kept and (u[i, kept] @ u[i, r]).abs().max() >= 1 - dedup_tol:
                continue
            kept.append(r)
        n = len(kept)
        if n:
            directions[i, :n] = u[i, kept]
            rank_one[i, :n] = lam[i, kept].numpy()
        found[i, :n] = True
    return RankOne(directions.to(W.device), found, rank_one, accepted, it)


# --------------------------------------------------------------------------- reconstruction
class ShallowNet(torch.nn.Module):
    """Reconstructed networks f̂(x) = Σ_j b_j g(a_jᵀx + θ_j) + c, batched over instances.

    Parameters A (B, d, k), theta, b (B, k), c (B,); the buffer ``mask`` (B, k) marks the
    columns in use (an instance with fewer directions than k has zero unused columns).
    ``instance(i)`` gives instance i alone, with its used columns only.
    """

    def __init__(self, A, theta, b, c, mask, activation: str):
        super().__init__()
        _check_activation(activation)
        self.activation = activation
        self.A = torch.nn.Parameter(A.clone())
        self.theta = torch.nn.Parameter(theta.clone())
        self.b = torch.nn.Parameter(b.clone())
        self.c = torch.nn.Parameter(c.clone())
        self.register_buffer("mask", torch.as_tensor(mask, device=A.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs (B, q) at inputs x (B, q, d)."""
        w = self.mask.to(self.A.dtype)
        return _forward(x, self.A * w.unsqueeze(1), self.theta * w, self.b * w, self.activation, self.c)

    def instance(self, i: int) -> ShallowNet:
        used = self.mask[i]
        with torch.no_grad():
            return ShallowNet(
                self.A[i : i + 1][:, :, used],
                self.theta[i : i + 1][:, used],
                self.b[i : i + 1][:, used],
                self.c[i : i + 1],
                self.mask[i : i + 1][:, used],
                self.activation,
            )


def _levenberg_marquardt(resid_jac, p, colmask, max_iter, tol):
    """Minimize ½‖r(p)‖² per instance by Levenberg–Marquardt, batched: p (B, P), colmask (B, P).

    Damping μ·diag(JᵀJ) (Marquardt scaling), μ ÷3 on an accepted step, ×4 on a rejected one.
    An instance stops when an accepted step lowers its loss by at most ``tol`` relative, its
    loss reaches round-off level, or μ exceeds 1e16 (no descent left). Masked parameters
    never move.
    """
    B, P = p.shape
    r, J = resid_jac(p)
    loss = 0.5 * (r * r).sum(1)
    floor = 1e-30 * loss.clamp_min(1e-300)
    mu = torch.full((B,), 1e-3, dtype=p.dtype, device=p.device)
    done = torch.zeros(B, dtype=torch.bool, device=p.device)
    fixed = 1 - colmask
    for _ in range(max_iter):
        g = (J.mT @ r.unsqueeze(2)).squeeze(2)
        JtJ = J.mT @ J
        diag = torch.diagonal(JtJ, dim1=1, dim2=2)
        diag = torch.maximum(diag, 1e-12 * diag.amax(dim=1, keepdim=True).clamp_min(1e-300))
        step = -torch.linalg.solve(JtJ + torch.diag_embed(mu.unsqueeze(1) * diag * colmask + fixed), g)
        step = step * colmask * (~done).unsqueeze(1)
        r_new, J_new = resid_jac(p + step)
        loss_new = 0.5 * (r_new * r_new).sum(1)
        better = (loss_new < loss) & ~done
        small = better & (loss - loss_new <= tol * loss)
        p = torch.where(better.unsqueeze(1), p + step, p)
        r = torch.where(better.unsqueeze(1), r_new, r)
        J = torch.where(better.view(B, 1, 1), J_new, J)
        loss = torch.where(better, loss_new, loss)
        mu = torch.where(better, mu / 3, mu * 4).clamp_min(1e-15)
        done = done | small | (loss <= floor) | (mu > 1e16)
        if bool(done.all()):
            break
    return p, loss


def _fit(X, y, A, mask, activation, refine, with_w, theta, b, c, w, max_iter, tol):
    """One LM fit of θ, b, c (+ w: linear terms w_j a_jᵀx; + A when ``refine``) to y at X."""
    B, n, d = X.shape
    k = A.shape[2]
    wm = mask.to(X.dtype)
    parts = [("theta", k), ("b", k), ("c", 1)] + ([("w", k)] if with_w else []) + ([("A", k * d)] if refine else [])
    sizes = [s for _, s in parts]
    names = [nm for nm, _ in parts]
    one = torch.ones(B, 1, dtype=X.dtype, device=X.device)
    cols = {"theta": wm, "b": wm, "c": one, "w": wm, "A": wm.repeat_interleave(d, 1)}
    colmask = torch.cat([cols[nm] for nm in names], 1)

    def unpack(p):
        q = dict(zip(names, torch.split(p, sizes, dim=1), strict=True))
        q["A"] = q["A"].reshape(B, k, d).mT if refine else A
        return q

    def resid_jac(p):
        q = unpack(p)
        S = torch.bmm(X, q["A"])
        G, G1, _ = ACTIVATIONS[activation](S + q["theta"].unsqueeze(1))
        bw = (q["b"] * wm).unsqueeze(1)
        f = (G * bw).sum(2) + q["c"]
        cols = {"theta": G1 * bw, "b": G * wm.unsqueeze(1), "c": torch.ones_like(f).unsqueeze(2)}
        dA = G1 * bw
        if with_w:
            ww = (q["w"] * wm).unsqueeze(1)
            f = f + (S * ww).sum(2)
            cols["w"] = S * wm.unsqueeze(1)
            dA = dA + ww
        if refine:
            cols["A"] = (dA.unsqueeze(3) * X.unsqueeze(2)).reshape(B, n, k * d)
        return f - y, torch.cat([cols[nm] for nm in names], 2)

    init = {"theta": theta, "b": b, "c": c.unsqueeze(1), "w": w, "A": A.mT.reshape(B, k * d)}
    p, loss = _levenberg_marquardt(resid_jac, torch.cat([init[nm] for nm in names], 1), colmask, max_iter, tol)
    q = unpack(p)
    return q["A"], q["theta"], q["b"], q["c"].squeeze(1), q.get("w"), loss


def hessian_init(
    H: torch.Tensor, points: torch.Tensor, directions: torch.Tensor, found: np.ndarray, activation: str, grid: int = 241
) -> torch.Tensor:
    """Starting biases θ (B, k) from the Hessians already queried (no new queries).

    H_j = Σ_i b_i g''(a_iᵀx_j + θ_i) a_i a_iᵀ: least squares in the basis {â_i â_iᵀ} gives, per
    point, γ_ij ≈ b_i g''(â_iᵀx_j + θ_i); each neuron is then a separate two-parameter fit:
    θ_i on a grid of ``grid`` values over [−(r + 8), r + 8] (r the largest |â_iᵀx_j|; a neuron
    biased further out is saturated on the data), b_i in closed form. The sign of â_i is
    absorbed as in the value fit (tanh, sigmoid: g'' odd about 0, so θ̂ = −θ, b̂ = −b;
    softplus: g'' even, the sign is left to the value fit's linear terms). With few points
    (N_h ≲ 2) a neuron's fit is underdetermined; ``fit_network`` therefore also starts from
    θ = 0 and keeps the better fit. Without this start, the wide regime (m > d) stalls.
    """
    B, k, d = directions.shape
    wm = torch.as_tensor(found, device=H.device).to(H.dtype)
    V = sym_vec(directions.unsqueeze(3) * directions.unsqueeze(2)) * wm.unsqueeze(2)  # (B, k, D)
    G = V @ V.mT
    G = G + torch.diag_embed(1e-12 * torch.diagonal(G, dim1=1, dim2=2).amax(1, keepdim=True) * wm + (1 - wm))
    gam = torch.linalg.solve(G.unsqueeze(1), (V.unsqueeze(1) @ sym_vec(H).unsqueeze(3))).squeeze(3)  # (B, N, k)
    S = points @ directions.mT  # (B, N, k)
    r = float(S.abs().max()) if S.numel() else 1.0
    ts = torch.linspace(-(r + 8), r + 8, grid, dtype=H.dtype, device=H.device)
    phi = ACTIVATIONS[activation](S.unsqueeze(3) + ts)[2]  # (B, N, k, grid)
    num = (phi * gam.unsqueeze(3)).sum(1)
    den = (phi * phi).sum(1).clamp_min(1e-300)
    best = (num * num / den).argmax(dim=2, keepdim=True)  # the least residual ‖γ‖² − ⟨φ,γ⟩²/‖φ‖²
    return ts[best.squeeze(2)] * wm


def fit_network(
    oracle: Oracle,
    directions: torch.Tensor,
    found: np.ndarray,
    activation: str,
    n_fit: int,
    radius: float = 1.0,
    seed: int = 0,
    refine: bool = False,
    max_iter: int = 200,
    tol: float = 1e-12,
    init: torch.Tensor | None = None,
) -> tuple[ShallowNet, np.ndarray]:
    """Fit θ̂, b̂, ĉ (and with ``refine`` the directions too) to n_fit fresh queries.

    Points are uniform on the sphere of radius ``radius`` (the domain of the Hessian points
    and of the evaluation; stream (seed, i, fit)). Two starts, run as one batch: θ = 0 and,
    when given, θ = ``init`` (B, k) (e.g. ``hessian_init``); b̂, ĉ (and the linear terms
    below) by linear least squares given θ; then Levenberg–Marquardt on the values. Each
    instance keeps the start that ends with the smaller residual. Signs of â_j need no care
    for odd g (b g(−z) = −b g(z): b̂ absorbs it) nor sigmoid (b g(−z) = b − b g(z): b̂ and ĉ
    absorb it). For softplus, g(z) = g(−z) + z: a first fit with fixed directions carries
    linear terms w_j â_jᵀx; â_j is flipped where that explains them (|w_j + b_j| < |w_j|),
    then the model is refit without them. Returns the module and the relative residual
    ‖f − f̂‖₂/‖f‖₂ on the fit points.
    """
    B, k, d = directions.shape
    if not isinstance(n_fit, int | np.integer) or n_fit < 1:
        raise IlocoError(f"id: need n_fit >= 1 fit queries, got {n_fit}")
    X1 = sphere_points(B, n_fit, d, radius, seed, _FIT, oracle.device, oracle.dtype)
    y1 = oracle(X1)
    mask1 = torch.as_tensor(found, device=X1.device)
    starts = [torch.zeros(B, k, dtype=X1.dtype, device=X1.device)] + ([] if init is None else [init.to(X1)])
    n = len(starts)
    X, y, mask = X1.repeat(n, 1, 1), y1.repeat(n, 1), mask1.repeat(n, 1)
    wm = mask.to(X.dtype)
    theta = torch.cat(starts) * wm
    A = directions.mT.repeat(n, 1, 1) * wm.unsqueeze(1)
    S = torch.bmm(X, A)
    soft = activation == "softplus"
    one = torch.ones(n * B, 1, dtype=X.dtype, device=X.device)
    Phi = [ACTIVATIONS[activation](S + theta.unsqueeze(1))[0] * wm.unsqueeze(1), one.expand(-1, n_fit).unsqueeze(2)]
    Phi += [S * wm.unsqueeze(1)] if soft else []
    beta = _lstsq(torch.cat(Phi, 2), y, torch.cat([wm, one] + ([wm] if soft else []), 1))
    b, c, w = beta[:, :k], beta[:, k], (beta[:, k + 1 :] if soft else None)
    A, theta, b, c, w, loss = _fit(X, y, A, mask, activation, refine and not soft, soft, theta, b, c, w, max_iter, tol)
    if soft:
        flip = (((w + b).abs() < w.abs()) & mask).to(X.dtype)
        sgn = 1 - 2 * flip
        c = c + (flip * b * theta).sum(1)
        A, theta = A * sgn.unsqueeze(1), theta * sgn
        A, theta, b, c, _, loss = _fit(X, y, A, mask, activation, refine, False, theta, b, c, None, max_iter, tol)
    pick = loss.reshape(n, B).argmin(dim=0) * B + torch.arange(B, device=loss.device)
    rel = (2 * loss[pick]).sqrt() / y1.norm(dim=1).clamp_min(1e-300)
    net = ShallowNet(A[pick].detach(), theta[pick].detach(), b[pick].detach(), c[pick].detach(), mask1, activation)
    return net, rel.cpu().numpy()


def _lstsq(Phi: torch.Tensor, y: torch.Tensor, colm: torch.Tensor) -> torch.Tensor:
    """argmin ‖Φβ − y‖ per instance by ridge-stabilized normal equations (same on CPU and CUDA);
    columns where ``colm`` is 0 get β = 0."""
    G = Phi.mT @ Phi
    ridge = 1e-12 * torch.diagonal(G, dim1=1, dim2=2).amax(1, keepdim=True).clamp_min(1e-300)
    G = G + torch.diag_embed(ridge * colm + (1 - colm))
    return torch.linalg.solve(G, (Phi.mT @ y.unsqueeze(2)).squeeze(2)) * colm


# --------------------------------------------------------------------------- the method
@dataclass
class IdResult:
    """What identification returns, per instance (B = oracle.batch).

    ``directions`` (B, k, d): unit â_j (zero rows where ``found`` is False); ``net``: the
    reconstructed ``ShallowNet``; ``m_hat`` (B,) the span dimension used; ``singular_values``
    (B, min(N_h, d(d+1)/2)) of the vectorized Hessians; ``span_complete``: N_h ≥ m (or a gap
    was seen); ``rank_one`` (B, k) |λ| of each kept candidate's M, and ``certified`` (B,) the
    number with |λ| ≥ 1 − tol_complete (M rank one up to the finite-difference error);
    ``complete`` = span_complete and all m_hat directions found and certified: the method's
    own claim of success, never made with N_h < m; ``queries`` (B,) used by identification,
    = n_hessians·queries_per_hessian + n_fit; ``accepted`` restarts that ended as
    candidates; ``iterations`` power-iteration steps of the longest restart;
    ``fit_residual`` ‖f − f̂‖₂/‖f‖₂ on the fit queries; ``params`` the hyper-parameters;
    ``timings`` wall seconds per stage.
    """

    directions: torch.Tensor
    found: np.ndarray
    net: ShallowNet
    m_hat: np.ndarray
    singular_values: np.ndarray
    span_complete: np.ndarray
    complete: np.ndarray
    queries: np.ndarray
    rank_one: np.ndarray
    certified: np.ndarray
    accepted: np.ndarray
    iterations: int
    fit_residual: np.ndarray
    params: dict
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_found(self) -> np.ndarray:
        return self.found.sum(axis=1)


def identify_shallow(
    oracle: Oracle,
    m: int | None,
    n_hessians: int,
    h: float = 1e-3,
    scheme: str = "central",
    restarts: int | None = None,
    *,
    activation: str = "tanh",
    radius: float = 1.0,
    n_fit: int | None = None,
    seed: int = 0,
    variant: str = "plain",
    gamma: float = 2.0,
    tol: float = 1e-10,
    max_iter: int = 500,
    tol_rank: float = 0.3,
    tol_complete: float = 1e-3,
    dedup_tol: float = 1e-3,
    refine: bool = False,
    gap: float = 1e3,
    rank_tol: float | None = None,
    fit_iter: int = 200,
    init: str = "hessian",
    max_elements: int = 2**22,
) -> IdResult:
    """Identify the oracle's B shallow networks of width ``m`` (None: estimate it, ``estimate_span``).

    1. Hessians by finite differences (``scheme``, step ``h``) at ``n_hessians`` points uniform
       on the sphere of radius ``radius`` (stream (seed, i, points)): ``fd_hessians``
       (oracle calls of at most ``max_elements`` numbers).
    2. Span: top min(m, N_h) left singular vectors of the vectorized Hessians: ``estimate_span``
       (``gap`` or ``rank_tol`` when m is None).
    3. Directions: ``rank_one_search`` with ``restarts`` (default 5·m̂) restarts per instance
       (``variant``, ``gamma``, ``tol``, ``max_iter``, ``tol_rank``, ``dedup_tol``).
    4. θ̂, b̂, ĉ by ``fit_network`` on ``n_fit`` further queries (default 4 × the number of
       fitted parameters), started from ``hessian_init`` (``init="hessian"``, no queries) or
       from θ = 0 (``init="zero"``, which stalls at large |θ| in the wide regime m > d);
       ``refine`` fits the directions too (more accurate when all were found; with one
       missing it bends the others to make up for it).
    Success (``complete``) is claimed only when the span is complete and m̂ directions were
    found whose M is rank one to 1 − tol_complete. The oracle is the only access to the
    networks; all instances share each oracle call.
    """
    if not isinstance(oracle, Oracle):
        raise IlocoError(f"id: identification takes an Oracle (query access only), got {type(oracle).__name__}")
    d, B = oracle.d, oracle.batch
    _check_activation(activation)
    _check_seed(seed)
    if m is not None:
        _check_width(d, m)
    if not isinstance(n_hessians, int | np.integer) or n_hessians < 1:
        raise IlocoError(f"id: need n_hessians >= 1, got {n_hessians}")
    if not (radius > 0 and math.isfinite(radius)):
        raise IlocoError(f"id: radius must be finite and > 0, got {radius}")
    queries_per_hessian(d, scheme)  # validates the scheme
    if m is not None and n_fit is not None:
        least = 2 * min(m, n_hessians) + 1 + (min(m, n_hessians) * d if refine else 0)
        if not isinstance(n_fit, int | np.integer) or n_fit < least:
            raise IlocoError(f"id: n_fit={n_fit} fit queries < {least} fitted parameters; use at least {least}")
    if init not in ("hessian", "zero"):
        raise IlocoError(f"id: init {init!r} is not one of hessian, zero")
    if not (h > 0 and math.isfinite(h)):
        raise IlocoError(f"id: finite-difference step h must be finite and > 0, got {h}")
    if restarts is not None and (not isinstance(restarts, int | np.integer) or restarts < 1):
        raise IlocoError(f"id: need restarts >= 1, got {restarts}")
    if variant not in ("plain", "gamma"):
        raise IlocoError(f"id: rank-one variant {variant!r} is not one of plain, gamma")
    for name, val in (("tol_rank", tol_rank), ("tol_complete", tol_complete), ("dedup_tol", dedup_tol)):
        if not 0 < val < 1:
            raise IlocoError(f"id: {name} must be in (0, 1), got {val}")
    start = oracle.queries
    t = {"t0": time.perf_counter()}

    def lap(name):
        now = time.perf_counter()
        t[name] = now - t.pop("last", t["t0"])
        t["last"] = now

    pts = sphere_points(B, n_hessians, d, radius, seed, _POINTS, oracle.device, oracle.dtype)
    H = fd_hessians(oracle, pts, h, scheme, max_elements)
    lap("hessians_s")
    span = estimate_span(H, m, gap, rank_tol)
    lap("span_s")
    k = int(span.m_hat.max())
    rank1 = rank_one_search(
        span, 5 * k if restarts is None else restarts, seed, variant, gamma, tol, max_iter, tol_rank, dedup_tol
    )
    lap("rank_one_s")
    n_params = 2 * k + 1 + (k * d if refine else 0)
    n_fit = 4 * n_params if n_fit is None else n_fit
    if isinstance(n_fit, int | np.integer) and 1 <= n_fit < n_params:
        raise IlocoError(f"id: n_fit={n_fit} fit queries < {n_params} fitted parameters; use at least {n_params}")
    init = hessian_init(H, pts, rank1.directions, rank1.found, activation) if init == "hessian" else None
    net, resid = fit_network(
        oracle, rank1.directions, rank1.found, activation, n_fit, radius, seed, refine, fit_iter, init=init
    )
    lap("fit_s")
    A = net.A.detach()
    used = torch.as_tensor(rank1.found, device=A.device).unsqueeze(2)
    directions = (A / A.norm(dim=1, keepdim=True).clamp_min(1e-300)).mT * used
    found = rank1.found
    certified = (np.nan_to_num(rank1.rank_one) >= 1 - tol_complete).sum(axis=1)
    params = {
        "n_hessians": int(n_hessians),
        "h": float(h),
        "scheme": scheme,
        "restarts": int(5 * k if restarts is None else restarts),
        "activation": activation,
        "radius": float(radius),
        "n_fit": int(n_fit),
        "variant": variant,
        "refine": bool(refine),
        "queries_per_hessian": queries_per_hessian(d, scheme),
        "m": m,
        "rank_tol": rank_tol,
    }
    timings = {key: val for key, val in t.items() if key.endswith("_s")}
    return IdResult(
        directions=directions,
        found=found,
        net=net,
        m_hat=span.m_hat,
        singular_values=span.singular_values,
        span_complete=span.complete,
        complete=span.complete & (found.sum(axis=1) == span.m_hat) & (certified == span.m_hat),
        queries=oracle.queries - start,
        rank_one=rank1.rank_one,
        certified=certified,
        accepted=rank1.accepted,
        iterations=rank1.iterations,
        fit_residual=resid,
        params=params,
        timings=timings,
    )


# --------------------------------------------------------------------------- evaluation
def match_directions(
    directions: torch.Tensor, found: np.ndarray, A: torch.Tensor, delta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match found unit directions (B, k, d) against true unit columns A (B, d, m), up to sign.

    A true a_i is recovered when some found â_j has |⟨a_i, â_j⟩| ≥ 1 − δ²/2 (‖a_i ∓ â_j‖ ≤ δ).
    Returns per instance the number recovered, counted as the smaller of the matched true and
    matched found directions (so it never exceeds the number found), the number of found
    directions that match some a_i, and the worst best match min_i max_j |⟨a_i, â_j⟩|.
    """
    dirs = directions.to(device=A.device, dtype=A.dtype)
    cos = torch.bmm(dirs, A).abs().cpu().numpy()  # (B, k, m)
    cos[~np.asarray(found, dtype=bool)] = 0
    hit = cos >= 1 - delta**2 / 2
    true_hit, found_hit = hit.any(axis=1).sum(1), hit.any(axis=2).sum(1)
    best = cos.max(axis=1).min(axis=1) if cos.shape[1] else np.zeros(cos.shape[0])
    return np.minimum(true_hit, found_hit), found_hit, best


def relative_errors(
    f: Callable[[torch.Tensor], torch.Tensor], f_hat: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform max|f − f̂| / max|f| and mean ‖f − f̂‖₂ / ‖f‖₂ relative errors at points X (B, q, d)."""
    with torch.no_grad():
        y = f(X)
        err = y - f_hat(X).to(y)
    uni = (err.abs().amax(1) / y.abs().amax(1).clamp_min(1e-300)).cpu().numpy()
    mean = (err.norm(dim=1) / y.norm(dim=1).clamp_min(1e-300)).cpu().numpy()
    return uni, mean


def evaluate(
    nets: ShallowNets, result: IdResult, delta: float = 1e-2, n_test: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """The evaluator's view, one row per instance (it sees the true networks; no oracle queries).

    ``recovered``: true a_i matched by a found â_j with |⟨a_i, â_j⟩| ≥ 1 − δ²/2 (‖a_i ∓ â_j‖ ≤ δ),
    counted as the smaller of the matched true and matched found directions, so it never
    exceeds the number found; ``complete``: all m recovered; ``spurious``: found directions
    matching no a_i. Errors of f̂ on n_test fresh points uniform on the identification's
    sphere (stream (seed, i, test)), evaluated directly: ``uniform_rel_err`` = max|f − f̂| /
    max|f|, ``mean_rel_err`` = ‖f − f̂‖₂ / ‖f‖₂.
    """
    if not delta > 0:
        raise IlocoError(f"id: delta must be > 0, got {delta}")
    if not isinstance(n_test, int | np.integer) or n_test < 1:
        raise IlocoError(f"id: need n_test >= 1, got {n_test}")
    B, d, m = nets.A.shape
    recovered, found_hit, best = match_directions(result.directions, result.found, nets.A, delta)
    X = sphere_points(B, n_test, d, result.params["radius"], seed, _TEST, nets.A.device, nets.A.dtype)
    uni, mean = relative_errors(nets.forward, result.net, X)
    no = nonorthogonality(nets.A)
    p = result.params
    return pd.DataFrame(
        {
            "instance": np.arange(B),
            "d": d,
            "m": m,
            "activation": nets.activation,
            "scheme": p["scheme"],
            "h": p["h"],
            "n_hessians": p["n_hessians"],
            "restarts": p["restarts"],
            "gram_dev": no["gram_dev"],
            "coherence": no["coherence"],
            "m_hat": result.m_hat,
            "n_found": result.n_found,
            "recovered": recovered,
            "spurious": result.n_found - found_hit,
            "complete": recovered == m,
            "claimed_complete": result.complete,
            "best_match_min": best,
            "uniform_rel_err": uni,
            "mean_rel_err": mean,
            "fit_residual": result.fit_residual,
            "queries": result.queries,
        }
    )


# --------------------------------------------------------------------------- sweeps (ID1)
SWEEPS = ("recovery", "noise", "wide", "queries")


def sweep_cells(name: str, spec: dict) -> list[dict]:
    """The cells of one ID1 sweep as keyword sets for ``run_cell``.

    ``recovery``: N_h × non-orthogonality at fixed d, m; ``noise``: query noise σ × step h;
    ``wide``: widths m ≥ d with N_h = ⌈hessians_per_width·m⌉; ``queries``: m = d over d.
    """
    if name == "recovery":
        return [
            {"d": spec["d"], "m": spec["m"], "nonortho": nu, "n_hessians": nh}
            for nu in spec["nonortho"]
            for nh in spec["n_hessians"]
        ]
    if name == "noise":
        return [
            {"d": spec["d"], "m": spec["m"], "n_hessians": spec["n_hessians"], "h": h, "noise": s}
            for h in spec["h"]
            for s in spec["noise"]
        ]
    if name == "wide":
        return [{"d": spec["d"], "m": m, "n_hessians": math.ceil(spec["hessians_per_width"] * m)} for m in spec["m"]]
    if name == "queries":
        return [{"d": d, "m": d, "n_hessians": d + spec["extra_hessians"]} for d in spec["d"]]
    raise IlocoError(f"id: unknown sweep {name!r} (one of {', '.join(SWEEPS)})")


def run_cell(
    d: int,
    m: int,
    n_hessians: int,
    *,
    trials: int,
    seed: int,
    activation: str = "tanh",
    nonortho: float = 0.0,
    theta_scale: float = 0.5,
    h: float = 1e-3,
    noise: float = 0.0,
    scheme: str = "central",
    restarts_per_width: int = 5,
    delta: float = 1e-2,
    n_test: int = 2000,
    device: torch.device = CPU,
) -> pd.DataFrame:
    """Identify ``trials`` seeded networks as one batch; one evaluated row per trial.

    Networks are drawn from (seed, trial) whatever the cell, so cells that differ only in
    N_h, h or σ see the same networks (paired comparisons).
    """
    nets = shallow_networks(trials, d, m, activation, nonortho, seed, theta_scale, device)
    oracle = oracle_of(nets, noise, seed)
    t0 = time.perf_counter()
    res = identify_shallow(
        oracle, m, n_hessians, h, scheme, restarts_per_width * min(m, n_hessians), activation=activation, seed=seed
    )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - t0
    table = evaluate(nets, res, delta, n_test, seed)
    table.insert(4, "nonortho", nonortho)
    table.insert(5, "noise", noise)
    table["wall_time_s"] = wall / trials
    return table


def run_sweep(name: str, spec: dict, common: dict, seed: int, device: torch.device, progress: bool = True):
    """Every cell of sweep ``name``; ``common`` holds the shared settings (activation, h, …)."""
    from tqdm import tqdm

    cells = sweep_cells(name, spec)
    parts = []
    for cell in tqdm(cells, desc=f"ID1 {name}", file=sys.stderr, disable=not progress):
        kw = {**common, **cell}
        part = run_cell(**kw, seed=seed, device=device)
        part.insert(0, "sweep", name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- two hidden layers (ID2)
@dataclass
class TwoLayerNets(_Batch):
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
    _check_activation(activation)
    _check_seed(seed)
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
        gen = _generator(seed, i)
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
    _check_seed(seed)
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
    pts = sphere_points(oracle.batch, n_hessians, d, radius, seed, _POINTS, oracle.device, oracle.dtype)
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


# --------------------------------------------------------------------------- training students (ID3)
#: Optimizers of the student trainer: plain gradient descent (the object of study) and Adam
#: (the baseline that fits a network to a query budget).
OPTIMIZERS = ("gd", "adam")


def _student_forward(X, W, c, b, activation):
    """f(x) = Σ_j b_j g(w_jᵀx + c_j) for X (R, 1|C, n, d), W (R, C, d, m), c, b (R, C, m):
    outputs (R, C, n) and the activations (g, g') at the pre-activations."""
    g, dg, _ = ACTIVATIONS[activation](X @ W + c.unsqueeze(2))
    return (g @ b.unsqueeze(3)).squeeze(3), g, dg


def student_gradients(X, y, W, c, b, activation):
    """Gradients of ½·mean_n (f(x_n) − y_n)² in W, c, b, batched over (R, C) as in ``_student_forward``
    (y (R, 1|C, n)); written out, so a step costs three batched matmuls."""
    f, g, dg = _student_forward(X, W, c, b, activation)
    r = (f - y) / X.shape[2]
    gb = (g.mT @ r.unsqueeze(3)).squeeze(3)
    dz = r.unsqueeze(3) * b.unsqueeze(2) * dg
    return X.mT @ dz, dz.sum(2), gb


def train_students(
    X: torch.Tensor,
    y: torch.Tensor,
    W: torch.Tensor,
    c: torch.Tensor,
    b: torch.Tensor,
    *,
    activation: str,
    optimizer: str,
    lr: float,
    stop,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    desc: str = "students",
    progress: bool = True,
    checkpoint=None,
):
    """Train shallow students f = Σ_j b_j g(w_jᵀx + c_j) on (X (R, n, d), y (R, n)) by full-batch
    ``gd`` or ``adam`` with the shared engine: rows R (e.g. teachers), cells C (init scales or
    restarts) in W (R, C, d, m), c, b (R, C, m), all cells of a row on the same data. The
    engine's loss is the relative mean squared error mean (f − y)² / mean y², so ``stop``'s
    tolerance is relative. Returns the engine's RunResult (final W, c, b in ``state``)."""
    from iloco import engine

    _check_activation(activation)
    if optimizer not in OPTIMIZERS:
        raise IlocoError(f"id: optimizer {optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
    if not (lr > 0 and math.isfinite(lr)):
        raise IlocoError(f"id: learning rate must be finite and > 0, got {lr}")
    state = {"X": X.unsqueeze(1), "y": y.unsqueeze(1), "W": W.clone(), "c": c.clone(), "b": b.clone()}
    state["yy"] = (y * y).mean(1, keepdim=True).clamp_min(1e-300)
    names = ("W", "c", "b")
    if optimizer == "adam":
        for k in names:
            state["m" + k], state["v" + k] = torch.zeros_like(state[k]), torch.zeros_like(state[k])
        state["t"] = torch.zeros(W.shape[:2], dtype=W.dtype, device=W.device)
    b1, b2 = betas

    def loss(st):
        f = _student_forward(st["X"], st["W"], st["c"], st["b"], activation)[0]
        return ((f - st["y"]) ** 2).mean(2) / st["yy"]

    def step(st, frozen):
        grads = student_gradients(st["X"], st["y"], st["W"], st["c"], st["b"], activation)
        keep = (~frozen).to(st["W"].dtype)
        if optimizer == "adam":
            st["t"] += keep
            t = st["t"].clamp_min(1)
        for k, gk in zip(names, grads, strict=True):
            kk = keep.reshape(*keep.shape, *([1] * (gk.ndim - 2)))
            if optimizer == "gd":
                st[k] -= lr * kk * gk
                continue
            tt = t.reshape(kk.shape)
            st["m" + k] += kk * (1 - b1) * (gk - st["m" + k])
            st["v" + k] += kk * (1 - b2) * (gk * gk - st["v" + k])
            mhat, vhat = st["m" + k] / (1 - b1**tt), st["v" + k] / (1 - b2**tt)
            st[k] -= lr * kk * mhat / (vhat.sqrt() + eps)

    return engine.run_batched(state, step, loss, stop, desc, progress, checkpoint)


def init_students(
    batch: int, cells: int, d: int, width: int, scales: list[float], seed: int, stream: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gaussian student initializations (CPU, float64), W (B, C, d, m), c, b (B, C, m): standard
    fan-in scaling w ~ N(0, I/d), c ~ N(0, 1/d), b ~ N(0, 1/m), times ``scales[j]`` for cell j
    (len(scales) = C), so cells share one draw and differ by scale only (paired); instance i
    draws from (seed, i, stream, j)."""
    if len(scales) != cells:
        raise IlocoError(f"id: {cells} cells need {cells} init scales, got {len(scales)}")
    Ws, cs, bs = [], [], []
    for i in range(batch):
        gen = [_generator(seed, i, stream, j) for j in range(cells)]
        Ws.append(torch.stack([torch.randn(d, width, generator=g, dtype=torch.float64) / math.sqrt(d) for g in gen]))
        cs.append(torch.stack([torch.randn(width, generator=g, dtype=torch.float64) / math.sqrt(d) for g in gen]))
        bs.append(torch.stack([torch.randn(width, generator=g, dtype=torch.float64) / math.sqrt(width) for g in gen]))
    s = torch.tensor(scales, dtype=torch.float64)
    return torch.stack(Ws) * s.view(1, -1, 1, 1), torch.stack(cs) * s.view(1, -1, 1), torch.stack(bs) * s.view(1, -1, 1)


def gaussian_inputs(batch: int, n: int, d: int, seed: int, stream: int) -> torch.Tensor:
    """n training inputs x ~ N(0, I/d) (‖x‖ ≈ 1) per instance, (B, n, d) float64 on the CPU."""
    return torch.stack(
        [torch.randn(n, d, generator=_generator(seed, i, stream), dtype=torch.float64) for i in range(batch)]
    ) / math.sqrt(d)


def student_net(W: torch.Tensor, c: torch.Tensor, b: torch.Tensor, activation: str) -> ShallowNet:
    """A batch of trained students (W (B, d, m), c, b (B, m)) as a ``ShallowNet`` (zero offset)."""
    mask = torch.ones(b.shape, dtype=torch.bool, device=b.device)
    return ShallowNet(W, c, b, torch.zeros(b.shape[0], dtype=b.dtype, device=b.device), mask, activation)


def unit_directions(net: ShallowNet) -> tuple[torch.Tensor, np.ndarray]:
    """The unit weight directions (B, k, d) of a network and its used-column mask (B, k)."""
    A = net.A.detach()
    return (A / A.norm(dim=1, keepdim=True).clamp_min(1e-300)).mT, net.mask.cpu().numpy().astype(bool)


def fit_by_adam(
    oracle: Oracle,
    width: int,
    n_queries: int,
    activation: str,
    baseline: dict,
    seed: int = 0,
    *,
    radius: float = 1.0,
    progress: bool = False,
) -> tuple[ShallowNet, np.ndarray]:
    """The baseline: fit a network of width ``width`` (the true architecture) to ``n_queries``
    input–output queries per instance (uniform on the sphere of radius ``radius``, stream
    (seed, i, adam)) by full-batch Adam (``baseline``, the config's section: ``restarts``
    standard-scale initializations run as the cells of one batch, ``lr``, ``steps``,
    ``tol_loss``); each instance keeps the restart with the least training loss. Returns the
    network and its relative training MSE."""
    from iloco import engine

    restarts, lr, steps, tol = (baseline[k] for k in ("restarts", "lr", "steps", "tol_loss"))
    B, d = oracle.batch, oracle.d
    if not isinstance(n_queries, int | np.integer) or n_queries < 1:
        raise IlocoError(f"id: the baseline needs at least one query, got {n_queries}")
    if not isinstance(restarts, int | np.integer) or restarts < 1:
        raise IlocoError(f"id: need restarts >= 1, got {restarts}")
    X = sphere_points(B, int(n_queries), d, radius, seed, _ADAM, oracle.device, oracle.dtype)
    y = oracle(X)
    W, c, b = init_students(B, restarts, d, width, [1.0] * restarts, seed, _ADAM)
    to = {"device": X.device, "dtype": X.dtype}
    stop = engine.StopRule(max_steps=steps, tol_loss=tol, tol_change=0.0, check_every=max(1, min(100, steps)))
    res = train_students(
        X,
        y,
        W.to(**to),
        c.to(**to),
        b.to(**to),
        activation=activation,
        optimizer="adam",
        lr=lr,
        stop=stop,
        desc="Adam baseline",
        progress=progress,
    )
    loss = np.where(np.isfinite(res.loss), res.loss, np.inf)
    best = torch.as_tensor(loss.argmin(axis=1))
    rows = torch.arange(B)
    st = res.state
    net = student_net(
        st["W"][rows, best].to(**to), st["c"][rows, best].to(**to), st["b"][rows, best].to(**to), activation
    )
    return net, loss[np.arange(B), best.numpy()]


# --------------------------------------------------------------------------- the chain (ID3)
CHAIN_KEYS = ("teacher_A", "teacher_theta", "teacher_b", "W", "c", "b", "scales", "train_loss", "steps", "status")


def train_chain(spec: dict, seed: int, device: torch.device = CPU, progress: bool = True, checkpoint=None) -> dict:
    """The training stage of the chain: ``teachers`` seeded shallow teachers (width
    ``teacher_width``), ``n_train`` inputs x ~ N(0, I/d) each, and for every teacher one
    over-parameterized student (width ``student_width``) per init scale, all trained as one
    batch by full-batch GD (``train``: lr, max_steps, tol_loss, check_every) through the
    shared engine (checkpointed with ``checkpoint``). Returns numpy arrays (``CHAIN_KEYS``)."""
    from iloco import engine

    T, d, act = spec["teachers"], spec["d"], spec["activation"]
    teachers = shallow_networks(T, d, spec["teacher_width"], act, spec["nonortho"], seed, spec["theta_scale"])
    X = gaussian_inputs(T, spec["n_train"], d, seed, _DATA)
    y = teachers.forward(X)
    scales = [float(s) for s in spec["init_scales"]]
    W, c, b = init_students(T, len(scales), d, spec["student_width"], scales, seed, _STUDENT)
    tr = spec["train"]
    stop = engine.StopRule(tr["max_steps"], tr["tol_loss"], 0.0, tr["check_every"])
    to = {"device": device, "dtype": torch.float64}
    res = train_students(
        X.to(**to),
        y.to(**to),
        W.to(**to),
        c.to(**to),
        b.to(**to),
        activation=act,
        optimizer="gd",
        lr=tr["lr"],
        stop=stop,
        desc="ID3 students",
        progress=progress,
        checkpoint=checkpoint,
    )
    st = res.state
    return {
        "teacher_A": teachers.A.numpy(),
        "teacher_theta": teachers.theta.numpy(),
        "teacher_b": teachers.b.numpy(),
        "W": st["W"].numpy(),
        "c": st["c"].numpy(),
        "b": st["b"].numpy(),
        "scales": np.array(scales),
        "train_loss": res.loss,
        "steps": res.steps,
        "status": res.status,
        "elapsed_s": np.array(res.elapsed_s),
    }


def _params(width: int, d: int, offset: bool) -> int:
    return width * (d + 2) + int(offset)


def identify_chain(arrays: dict, spec: dict, seed: int, device: torch.device = CPU, progress: bool = True):
    """Identify every trained student from queries alone and build its compact network; fit the
    baseline (Adam, teacher width, same number of queries of the student) next to it.

    Identification: ``identify_shallow`` with the width unknown, estimated as the numerical
    rank of the Hessians (``identify.rank_tol``), directions refined in the final fit. Rows:
    (teacher, init scale, method) with the identified width, the compression ratio (student
    parameters / compact parameters), the compact network's error against the student and
    against the teacher on fresh points of the unit sphere, and the teacher weights recovered.
    """
    from tqdm import tqdm

    from iloco import engine

    to = {"device": device, "dtype": torch.float64}
    A = torch.as_tensor(arrays["teacher_A"]).to(**to)
    act = spec["activation"]
    teachers = ShallowNets(
        A, torch.as_tensor(arrays["teacher_theta"]).to(**to), torch.as_tensor(arrays["teacher_b"]).to(**to), act
    )
    T, d, m_t = A.shape
    m_s = arrays["W"].shape[-1]
    ident_spec, base = spec["identify"], spec["baseline"]
    X = sphere_points(T, spec["n_test"], d, 1.0, seed, _TEST, device)
    rows = []
    for j, scale in enumerate(tqdm(arrays["scales"], desc="ID3 identify", file=sys.stderr, disable=not progress)):
        student = student_net(*(torch.as_tensor(arrays[k][:, j]).to(**to) for k in ("W", "c", "b")), act)
        t0 = time.perf_counter()
        res = identify_shallow(
            Oracle(student.forward, d, T, 0.0, seed, device),
            None,
            ident_spec["n_hessians"],
            ident_spec["h"],
            ident_spec["scheme"],
            ident_spec["restarts"],
            activation=act,
            seed=seed,
            rank_tol=ident_spec["rank_tol"],
            refine=True,
        )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t_id = time.perf_counter() - t0
        budget = int(res.queries.max())
        t0 = time.perf_counter()
        adam, _ = fit_by_adam(Oracle(student.forward, d, T, 0.0, seed, device), m_t, budget, act, base, seed)
        t_adam = time.perf_counter() - t0
        st_uni, st_mean = relative_errors(teachers.forward, student.forward, X)
        common = {
            "teacher": np.arange(T),
            "d": d,
            "teacher_width": m_t,
            "student_width": m_s,
            "init_scale": float(scale),
            "train_loss": arrays["train_loss"][:, j],
            "train_steps": arrays["steps"][:, j],
            "train_status": [engine.STATUS[s] for s in arrays["status"][:, j]],
            "student_vs_teacher_mean": st_mean,
            "student_vs_teacher_uniform": st_uni,
        }
        for method, net, width, wall in (
            ("identification", res.net, res.found.sum(axis=1), t_id),
            ("adam", adam, np.full(T, m_t), t_adam),
        ):
            dirs, used = unit_directions(net)
            rec, _, best = match_directions(dirs, used, A, spec["delta"])
            uni, mean = relative_errors(student.forward, net, X)
            _, t_mean = relative_errors(teachers.forward, net, X)
            rows.append(
                pd.DataFrame(
                    {
                        **common,
                        "method": method,
                        "width": width,
                        "m_hat": res.m_hat if method == "identification" else m_t,
                        "span_complete": res.span_complete if method == "identification" else True,
                        "compression": _params(m_s, d, False) / np.array([_params(int(w), d, True) for w in width]),
                        "vs_student_uniform": uni,
                        "vs_student_mean": mean,
                        "vs_teacher_mean": t_mean,
                        "recovered": rec,
                        "best_match_min": best,
                        "queries": budget,
                        "wall_time_s": wall / T,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def budget_spec(cfg: dict) -> dict:
    """The settings of ``run_budget`` from the config's id3 section: its ``budget`` part, the
    baseline, and the shared activation, teacher draw and finite-difference settings."""
    keys = ("activation", "nonortho", "theta_scale", "n_test", "baseline")
    return {
        **{k: cfg[k] for k in keys},
        "h": cfg["identify"]["h"],
        "scheme": cfg["identify"]["scheme"],
        **cfg["budget"],
    }


def run_budget(spec: dict, seed: int, device: torch.device = CPU, progress: bool = True) -> pd.DataFrame:
    """Identification against the baseline on the same query budget, on seeded shallow networks
    of known width (d, m): for each N_h, identify (``identify_shallow``), then give Adam as many
    input–output queries as identification used; both evaluated on the same fresh points and
    against the same true weights (recovered with ‖a_i ∓ â_j‖ ≤ δ)."""
    from tqdm import tqdm

    d, m, act, trials = spec["d"], spec["m"], spec["activation"], spec["trials"]
    nets = shallow_networks(trials, d, m, act, spec["nonortho"], seed, spec["theta_scale"], device)
    base = spec["baseline"]
    X = sphere_points(trials, spec["n_test"], d, 1.0, seed, _TEST, device)
    parts = []
    for nh in tqdm(spec["n_hessians"], desc="ID3 budget", file=sys.stderr, disable=not progress):
        t0 = time.perf_counter()
        res = identify_shallow(
            oracle_of(nets, 0.0, seed),
            m,
            nh,
            spec["h"],
            spec["scheme"],
            spec["restarts_per_width"] * min(m, nh),
            activation=act,
            seed=seed,
        )
        t_id = time.perf_counter() - t0
        budget = int(res.queries.max())
        t0 = time.perf_counter()
        adam, _ = fit_by_adam(oracle_of(nets, 0.0, seed), m, budget, act, base, seed)
        t_adam = time.perf_counter() - t0
        for method, net, dirs, used, wall in (
            ("identification", res.net, res.directions, res.found, t_id),
            ("adam", adam, *unit_directions(adam), t_adam),
        ):
            rec, _, best = match_directions(dirs, used, nets.A, spec["delta"])
            uni, mean = relative_errors(nets.forward, net, X)
            parts.append(
                pd.DataFrame(
                    {
                        "instance": np.arange(trials),
                        "d": d,
                        "m": m,
                        "n_hessians": nh,
                        "method": method,
                        "queries": budget,
                        "recovered": rec,
                        "complete": rec == m,
                        "best_match_min": best,
                        "uniform_rel_err": uni,
                        "mean_rel_err": mean,
                        "wall_time_s": wall / trials,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
