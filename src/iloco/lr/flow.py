"""LR3: the end-to-end gradient flow of depth-N factorizations (Arora et al.'s kernel) and its
N → ∞ limit (Cohen, Menon, Veraszto), integrated by SciPy; factorized GD from balanced
factors against the flow."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch

from iloco.core.engine import device_label, fixed_steps
from iloco.core.errors import IlocoError
from iloco.lr.model import balanced_factors, step_sizes, train
from iloco.lr.problems import N_SV, effective_rank, make_instances, masks, rel_error
from iloco.lr.spec import SEED_OFFSET


# --------------------------------------------------------------------------- the flows
def flow_kernel(a: torch.Tensor, b: torch.Tensor, depth: float) -> torch.Tensor:
    """K_N(a, b) = (1/N) Σ_{j=1}^N a^{(N−j)/N} b^{(j−1)/N} = (a − b) / (N (a^{1/N} − b^{1/N}))
    for a, b ≥ 0 (squared singular values), and for N = ∞ its limit ∫_0^1 a^{1−s} b^s ds =
    (a − b)/(ln a − ln b), the logarithmic mean (0 when a or b is 0). On the diagonal a = b
    both equal a^{(N−1)/N}; N = 1 gives 1."""
    a, b = torch.broadcast_tensors(a, b)
    if depth == 1:
        return torch.ones_like(a)
    if math.isinf(depth):
        la, lb = torch.log(a), torch.log(b)
        den = la - lb
        near = den.abs() < 1e-6
        safe = torch.where(near, torch.ones_like(den), den)
        out = torch.where(near, torch.sqrt(a * b) * (1 + den * den / 24), (a - b) / safe)
        return torch.where((a == 0) | (b == 0), torch.zeros_like(a), out)
    p = 1.0 / depth
    ap, bp = a.pow(p), b.pow(p)
    den = depth * (ap - bp)
    near = (ap - bp).abs() <= 1e-7 * torch.maximum(ap, bp)
    # on (and near) the diagonal: the sum of N equal terms, at the geometric mean
    diag = (a * b).clamp_min(0).sqrt().pow(1 - p)
    return torch.where(near, diag, (a - b) / torch.where(near, torch.ones_like(den), den))


def end_to_end_velocity(W: torch.Tensor, grad: torch.Tensor, depth: float) -> torch.Tensor:
    """−(1/N) Σ_j (WWᵀ)^{(N−j)/N} ∇L (WᵀW)^{(j−1)/N} (N = ∞: the integral), batched over the
    leading axes, through the SVD W = U Σ Vᵀ: U (K ∘ Uᵀ ∇L V) Vᵀ with K_kl = K_N(σ_k², σ_l²)."""
    U, S, Vh = torch.linalg.svd(W)
    s2 = S * S
    K = flow_kernel(s2.unsqueeze(-1), s2.unsqueeze(-2), depth)
    G = U.transpose(-2, -1) @ grad @ Vh.transpose(-2, -1)
    return -(U @ (K * G) @ Vh)


def end_to_end_velocity_sum(W: torch.Tensor, grad: torch.Tensor, depth: int) -> torch.Tensor:
    """The same velocity as a literal sum of matrix powers (a reference for tests)."""
    U, S, Vh = torch.linalg.svd(W)
    out = torch.zeros_like(W)
    for j in range(1, depth + 1):
        left = U @ torch.diag_embed(S.pow(2 * (depth - j) / depth)) @ U.transpose(-2, -1)
        right = Vh.transpose(-2, -1) @ torch.diag_embed(S.pow(2 * (j - 1) / depth)) @ Vh
        out = out + left @ grad @ right
    return -out / depth


# --------------------------------------------------------------------------- LR3: the flows
def completion_problem(inst: dict, i: int, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W*, mask, observed targets) of instance i at the j-th observation count."""
    mask = masks(inst)[i, j]
    return inst["W_star"][i], mask, inst["W_star"][i] * mask


def integrate_flow(
    W0: np.ndarray,
    Y: np.ndarray,
    mask: np.ndarray,
    depth: float,
    tol_loss: float,
    tau_max: float,
    rtol: float = 1e-8,
    dense: bool = False,
):
    """Integrate the end-to-end flow dW/dτ = V_N(W) of the completion loss
    L(W) = (1/2m) Σ_Ω (W − W*)², from W0 until the mean squared residual (1/m) Σ_Ω (W − W*)²
    = 2L (Arora et al.'s training loss, as in :func:`make_step`) is ≤ tol_loss (or τ_max), by SciPy's adaptive
    implicit BDF integrator (relative tolerance ``rtol``, absolute rtol·10⁻³): the flow is
    stiff (large singular values move fast, small ones slowly), so an explicit Runge–Kutta
    method would need steps at the fast scale across the long slow plateaus. Returns SciPy's
    solution object."""
    from scipy.integrate import solve_ivp

    d = W0.shape[0]
    inv_m = 1.0 / mask.sum()
    Yt, Mt = torch.from_numpy(Y), torch.from_numpy(mask)

    def rhs(_tau, w):
        # vectorized: columns of w are states (SciPy's finite-difference Jacobian asks for many)
        W = torch.from_numpy(np.ascontiguousarray(w.T)).reshape(-1, d, d)
        return end_to_end_velocity(W, (W - Yt) * Mt * inv_m, depth).reshape(-1, d * d).numpy().T

    def converged(_tau, w):
        R = (w.reshape(d, d) - Y) * mask
        return float((R * R).sum()) * inv_m - tol_loss

    converged.terminal = True
    return solve_ivp(
        rhs,
        (0.0, tau_max),
        W0.ravel().copy(),
        method="BDF",
        rtol=rtol,
        atol=rtol * 1e-3,
        events=converged,
        dense_output=dense,
        vectorized=True,
    )


def flow_depths(
    inst: dict, depths: list[float], alpha: float, tol_loss: float, tau_max: float, seed: int, rtol: float = 1e-8
) -> pd.DataFrame:
    """The end-to-end flow of every depth (math.inf included) on every instance and count,
    from the same start W0 = α G/√d: test error, effective rank and the flow time to
    converge. Rows of the same instance and count share W0 (paired)."""
    count, d = inst["W_star"].shape[:2]
    rows = []
    for i in range(count):
        W0 = np.random.default_rng([seed, i, 999]).standard_normal((d, d)) * alpha / math.sqrt(d)
        for j, m in enumerate(inst["observations"]):
            W_star, mask, Y = completion_problem(inst, i, j)
            for N in depths:
                t0 = time.perf_counter()
                sol = integrate_flow(W0, Y, mask, N, tol_loss, tau_max, rtol)
                W = sol.y[:, -1].reshape(d, d)
                sv = np.linalg.svd(W, compute_uv=False)
                R = (W - Y) * mask
                rows.append(
                    {
                        "instance": i,
                        "d": d,
                        "observations": int(m),
                        "depth": float(N),
                        "alpha": alpha,
                        "rel_error": float(rel_error(W, W_star)),
                        "unobserved_rel_error": float(
                            np.linalg.norm((W - W_star) * (1 - mask)) / np.linalg.norm(W_star * (1 - mask))
                        ),
                        "effective_rank": float(effective_rank(sv)),
                        "final_loss": float((R * R).sum()) / m,
                        "tau": float(sol.t[-1]),
                        "rhs_evals": int(sol.nfev),
                        "status": "converged" if sol.status == 1 else ("max_tau" if sol.status == 0 else "failed"),
                        "wall_time_s": time.perf_counter() - t0,
                        **{f"sv{k + 1}": float(sv[k]) for k in range(min(N_SV, d))},
                    }
                )
    return pd.DataFrame(rows)


def gd_vs_flow(
    inst: dict,
    depths: list[int],
    alpha: float,
    lrs: list[float],
    tol_loss: float,
    tau_max: float,
    points: int,
    device: torch.device,
    seed: int,
) -> pd.DataFrame:
    """Factorized GD from balanced factors of W0 = α G/√d against the end-to-end flow from W0:
    max over the path (``points`` times, τ = N η k) of ‖W_GD − W_flow(τ)‖_F / ‖W*‖_F, per
    depth and step size (instance 0, first observation count). GD is an Euler discretization
    of the factors' flow, so the gap should shrink in proportion to the step."""
    d = inst["W_star"].shape[1]
    sub = {k: (v[:1] if k in ("W_star", "order", "A", "seeds") else v) for k, v in inst.items()}
    sub["observations"] = inst["observations"][:1]
    W_star, mask, Y = completion_problem(sub, 0, 0)
    W0 = np.random.default_rng([seed, 0, 999]).standard_normal((d, d)) * alpha / math.sqrt(d)
    rows = []
    for N in depths:
        flow = integrate_flow(W0, Y, mask, N, tol_loss, tau_max, rtol=1e-9, dense=True)
        tau_end = float(flow.t[-1])
        fs = np.stack(balanced_factors(W0, N, np.random.default_rng([seed, N, 998])))[:, None, None]
        for lr in lrs:
            eta = float(step_sizes(sub, N, lr)[0, 0])
            steps = max(1, math.ceil(tau_end / (N * eta)))
            every = max(1, steps // points)
            trace: list = []
            stop = fixed_steps(steps)
            t0 = time.perf_counter()
            train(
                sub, N, [alpha], stop, lr, device, seed=seed, progress=False, factors=fs, trace=trace, trace_every=every
            )
            gap = max(
                np.linalg.norm(W[0, 0] - flow.sol(min(N * eta * k, tau_end)).reshape(d, d)) for k, _, W in trace
            ) / np.linalg.norm(W_star)
            rows.append(
                {
                    "depth": N,
                    "d": d,
                    "observations": int(sub["observations"][0]),
                    "alpha": alpha,
                    "lr": lr,
                    "eta": eta,
                    "steps": steps,
                    "tau_end": tau_end,
                    "max_gap": float(gap),
                    "wall_time_s": time.perf_counter() - t0,
                    "device": device_label(device),
                }
            )
    return pd.DataFrame(rows)


def run_flow(part: str, cfg: dict, seed: int, device: torch.device) -> pd.DataFrame:
    """LR3: ``depths`` (the flow's outcome per depth, N = ∞ included when cfg['infinite']) or
    ``gd`` (factorized GD against the flow, per depth and step)."""
    s = seed + SEED_OFFSET["flow"]
    inst = make_instances("completion", cfg["d"], cfg["rank"], cfg["observations"], cfg["instances"], s)
    if part == "depths":
        depths = [float(n) for n in cfg["depths"]] + ([math.inf] if cfg["infinite"] else [])
        return flow_depths(inst, depths, cfg["alpha"], cfg["tol_loss"], cfg["tau_max"], s, cfg["rtol"])
    if part == "gd":
        return gd_vs_flow(
            inst,
            cfg["gd_depths"],
            cfg["alpha"],
            cfg["gd_lrs"],
            cfg["tol_loss"],
            cfg["tau_max"],
            cfg["points"],
            device,
            s,
        )
    raise IlocoError(f"lr-flow: part {part!r} is not one of depths, gd")
