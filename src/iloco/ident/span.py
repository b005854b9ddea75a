"""The span of the Hessians (SVD of the vectorized Hessians) and its rank-one elements by a
projected power iteration with restarts: the directions a_i of the network."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from iloco.core.errors import IlocoError
from iloco.ident.networks import RESTARTS, generator, sym_unvec, sym_vec
from iloco.ident.spec import max_width


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
    max_found: int | None = None,
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

    One function on purpose: the projected power iteration with restarts and deduplication is
    one batched loop whose masks and buffers are shared by every step.
    """
    if variant not in ("plain", "gamma"):
        raise IlocoError(f"id: rank-one variant {variant!r} is not one of plain, gamma")
    if not isinstance(restarts, int | np.integer) or restarts < 1:
        raise IlocoError(f"id: need restarts >= 1, got {restarts}")
    W = span.basis
    B, k, d, _ = W.shape
    Wf = W.reshape(B, k, d * d)
    mask = torch.as_tensor(np.arange(k)[None, :] < span.m_hat[:, None], device=W.device).to(W.dtype)
    c0 = torch.stack([torch.randn(restarts, k, generator=generator(seed, i, RESTARTS)) for i in range(B)])
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
    most = span.m_hat if max_found is None else np.full(B, max_found)
    k_out = int(max(k, most.max()))
    directions = torch.zeros(B, k_out, d, dtype=u.dtype)
    found = np.zeros((B, k_out), dtype=bool)
    rank_one = np.full((B, k_out), np.nan)
    accepted = np.zeros(B, dtype=np.int64)
    for i in range(B):
        order = torch.argsort(lam[i], descending=True)
        ok = order[lam[i, order] >= 1 - tol_rank]
        accepted[i] = ok.numel()
        kept: list[int] = []
        for r in ok.tolist():
            if len(kept) >= most[i]:
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
