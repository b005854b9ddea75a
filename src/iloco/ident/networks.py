"""ID's networks and query access: seeded shallow networks, the query-only ``Oracle``, points
on spheres, and Hessians by finite differences (or autograd, for tests) on those points."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from iloco.core.errors import IlocoError
from iloco.ident.spec import max_width

CPU = torch.device("cpu")


# Random streams of one instance: (seed, instance) draws the network; the method and the
# evaluator draw from (seed, instance, stream). Public: the ID modules share the streams.
POINTS, RESTARTS, FIT, TEST, NOISE, DATA, STUDENT, ADAM = range(1, 9)


def _int_seed(*key: int) -> int:
    """A 64-bit torch seed from a tuple of non-negative integers (numpy SeedSequence)."""
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(1, dtype=np.uint64)[0])


def generator(*key: int) -> torch.Generator:
    return torch.Generator(device=CPU).manual_seed(_int_seed(*key))


def check_seed(seed: int) -> None:
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
        g = torch.randn(n, d, generator=generator(seed, i, stream), dtype=torch.float64)
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


def check_activation(name: str) -> None:
    if name not in ACTIVATIONS:
        raise IlocoError(f"id: activation {name!r} is not one of {', '.join(ACTIVATIONS)} (smooth, g'' not ≡ 0)")


def check_width(d: int, m: int) -> None:
    if not isinstance(d, int | np.integer) or d < 2:
        raise IlocoError(f"id: need input dimension d >= 2, got d={d}")
    if not isinstance(m, int | np.integer) or not 1 <= m <= max_width(d):
        raise IlocoError(f"id: need 1 <= m <= d(d-1)/2 = {max_width(d)} (identifiable width), got m={m}")


def shallow_forward(x, A, theta, b, activation, c=None):
    """Σ_i b_i g(a_iᵀx + θ_i) (+ c) for x (B, q, d), A (B, d, k), θ, b (B, k), c (B,)."""
    z = torch.bmm(x, A) + theta.unsqueeze(1)
    out = torch.bmm(ACTIVATIONS[activation](z)[0], b.unsqueeze(2)).squeeze(2)
    return out if c is None else out + c.unsqueeze(1)


# --------------------------------------------------------------------------- networks
class NetBatch:
    """Batch size and input dimension of networks whose first-layer weights A are (B, d, ·)."""

    A: torch.Tensor

    @property
    def batch(self) -> int:
        return self.A.shape[0]

    @property
    def d(self) -> int:
        return self.A.shape[1]


@dataclass
class ShallowNets(NetBatch):
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
        return shallow_forward(x, self.A, self.theta, self.b, self.activation)

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
    check_activation(activation)
    check_width(d, m)
    check_seed(seed)
    if batch < 1:
        raise IlocoError(f"id: need batch >= 1, got {batch}")
    if not (nonortho >= 0 and math.isfinite(nonortho)):
        raise IlocoError(f"id: nonortho must be finite and >= 0, got {nonortho}")
    if not (theta_scale >= 0 and math.isfinite(theta_scale)):
        raise IlocoError(f"id: theta_scale must be finite and >= 0, got {theta_scale}")
    As, thetas, bs = [], [], []
    for i in range(batch):
        gen = generator(seed, i)
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
#: noise is drawn per instance in blocks of this many numbers (see ``Oracle``)
NOISE_BLOCK = 4096


class Oracle:
    """Query access to B networks, and nothing else: f(x) for x (B, q, d), counted per instance.

    The function is held in a private closure, never in a public attribute (the public ones
    are ``queries``, ``d``, ``batch``, ``device``, ``dtype``), so code that is handed an
    oracle cannot reach the network. Every call adds q to each instance's count
    (``queries``, a copy). With ``noise`` > 0, each answer gets independent N(0, noise²)
    noise, drawn on the CPU from per-instance generators seeded from (seed, instance) in
    fixed blocks of ``NOISE_BLOCK``: the noise on an instance's k-th query depends on (seed,
    instance, k) only, not on how the queries are split into calls (which depends on the
    batch size: ``fd_hessians``' memory bound) — so a cell's first trials get the same
    answers whatever the number of trials (``torch.randn`` is not split-invariant).
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
        check_seed(seed)
        gens = [generator(seed, i, NOISE) for i in range(batch)]
        left = [torch.empty(0, dtype=torch.float64) for _ in range(batch)]  # drawn, not yet used

        def draw(i: int, n: int) -> torch.Tensor:
            parts, have = [left[i]], left[i].numel()
            while have < n:
                parts.append(torch.randn(NOISE_BLOCK, generator=gens[i], dtype=torch.float64))
                have += NOISE_BLOCK
            buf = torch.cat(parts)
            left[i] = buf[n:]
            return buf[:n]

        def query(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                y = f(x)
            if tuple(y.shape) != tuple(x.shape[:2]):
                raise IlocoError(f"id: the network returned shape {tuple(y.shape)}, expected {tuple(x.shape[:2])}")
            if noise > 0:
                eps = torch.stack([draw(i, x.shape[1]) for i in range(len(gens))])
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
