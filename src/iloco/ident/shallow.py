"""ID1: identify shallow networks f(x) = Σ b_i g(a_i·x + θ_i) from queries (span of Hessians →
rank-one elements → biases and output weights by Levenberg–Marquardt), evaluate them against
the hidden weights, and run the four ID1 sweeps."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from iloco.core.errors import IlocoError
from iloco.ident.networks import (
    ACTIVATIONS,
    CPU,
    FIT,
    POINTS,
    TEST,
    Oracle,
    ShallowNets,
    check_activation,
    check_seed,
    check_width,
    fd_hessians,
    nonorthogonality,
    oracle_of,
    queries_per_hessian,
    shallow_forward,
    shallow_networks,
    sphere_points,
    sym_vec,
)
from iloco.ident.span import estimate_span, rank_one_search
from iloco.ident.spec import SWEEPS


# --------------------------------------------------------------------------- reconstruction
class ShallowNet(torch.nn.Module):
    """Reconstructed networks f̂(x) = Σ_j b_j g(a_jᵀx + θ_j) + c, batched over instances.

    Parameters A (B, d, k), theta, b (B, k), c (B,); the buffer ``mask`` (B, k) marks the
    columns in use (an instance with fewer directions than k has zero unused columns).
    ``instance(i)`` gives instance i alone, with its used columns only.
    """

    def __init__(self, A, theta, b, c, mask, activation: str):
        super().__init__()
        check_activation(activation)
        self.activation = activation
        self.A = torch.nn.Parameter(A.clone())
        self.theta = torch.nn.Parameter(theta.clone())
        self.b = torch.nn.Parameter(b.clone())
        self.c = torch.nn.Parameter(c.clone())
        self.register_buffer("mask", torch.as_tensor(mask, device=A.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs (B, q) at inputs x (B, q, d)."""
        w = self.mask.to(self.A.dtype)
        return shallow_forward(x, self.A * w.unsqueeze(1), self.theta * w, self.b * w, self.activation, self.c)

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
    X1 = sphere_points(B, n_fit, d, radius, seed, FIT, oracle.device, oracle.dtype)
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
    3. Directions: ``rank_one_search`` for m directions when m is known (m̂ otherwise), even
       when N_h < m spans fewer dimensions, with ``restarts`` (default 5 per direction searched)
       restarts per instance (``variant``, ``gamma``, ``tol``, ``max_iter``, ``tol_rank``, ``dedup_tol``).
    4. θ̂, b̂, ĉ by ``fit_network`` on ``n_fit`` further queries (default 4 × the number of
       fitted parameters), started from ``hessian_init`` (``init="hessian"``, no queries) or
       from θ = 0 (``init="zero"``, which stalls at large |θ| in the wide regime m > d);
       ``refine`` fits the directions too (more accurate when all were found; with one
       missing it bends the others to make up for it).
    Success (``complete``) is claimed only when the span is complete and m̂ directions were
    found whose M is rank one to 1 − tol_complete. The oracle is the only access to the
    networks; all instances share each oracle call.

    One function on purpose: it is the published pipeline, stage after stage (Hessians → span
    → rank-one search → fit), on one batch whose intermediate tensors each stage hands on.
    """
    if not isinstance(oracle, Oracle):
        raise IlocoError(f"id: identification takes an Oracle (query access only), got {type(oracle).__name__}")
    d, B = oracle.d, oracle.batch
    check_activation(activation)
    check_seed(seed)
    if m is not None:
        check_width(d, m)
    if not isinstance(n_hessians, int | np.integer) or n_hessians < 1:
        raise IlocoError(f"id: need n_hessians >= 1, got {n_hessians}")
    if not (radius > 0 and math.isfinite(radius)):
        raise IlocoError(f"id: radius must be finite and > 0, got {radius}")
    queries_per_hessian(d, scheme)  # validates the scheme
    if m is not None and n_fit is not None:
        least = 2 * m + 1 + (m * d if refine else 0)
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

    pts = sphere_points(B, n_hessians, d, radius, seed, POINTS, oracle.device, oracle.dtype)
    H = fd_hessians(oracle, pts, h, scheme, max_elements)
    lap("hessians_s")
    span = estimate_span(H, m, gap, rank_tol)
    lap("span_s")
    k = int(span.m_hat.max()) if m is None else m  # directions searched
    rank1 = rank_one_search(
        span, 5 * k if restarts is None else restarts, seed, variant, gamma, tol, max_iter, tol_rank, dedup_tol, m
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
    X = sphere_points(B, n_test, d, result.params["radius"], seed, TEST, nets.A.device, nets.A.dtype)
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
    res = identify_shallow(oracle, m, n_hessians, h, scheme, restarts_per_width * m, activation=activation, seed=seed)
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
