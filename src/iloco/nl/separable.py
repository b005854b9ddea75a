"""NL1: gradient descent on separable data with the logistic and exponential losses against the
hard-margin SVM (Soudry et al.), and homogeneous networks' normalized margins (Lyu & Li)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from iloco.core.errors import IlocoError
from iloco.nl import spec as nl_spec

LOSSES = ("logistic", "exp")


#: Steps between the engine's checks inside a recording segment (divergence, checkpoint saves);
#: a run that does not diverge ends the same whatever it is.
CHECK_EVERY = 1000


def _check_loss(name: str) -> None:
    if name not in LOSSES:
        raise IlocoError(f"nl: loss {name!r} is not one of {', '.join(LOSSES)}")


def soudry_data(n_random: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The data of Soudry et al.'s Figure 1, in their style: four support vectors
    ±(0.5, 1.5), ±(1.5, 0.5), whose homogeneous hard-margin SVM is ŵ = (0.5, 0.5) (margin 1),
    plus ``n_random`` points per class off the margin (x₁ + x₂ ≥ 3 for class +1, mirrored for
    −1), drawn uniformly from [0, 4]² by rejection (numpy, ``seed``)."""
    if n_random < 0:
        raise IlocoError(f"nl: n_random must be >= 0, got {n_random}")
    rng = np.random.default_rng(seed)
    pts = []
    while len(pts) < n_random:
        p = rng.uniform(0.0, 4.0, 2)
        if p.sum() >= 3.0:
            pts.append(p)
    pos = np.vstack([np.array(nl_spec.SOUDRY_SUPPORT), np.array(pts).reshape(-1, 2)])
    return np.vstack([pos, -pos]), np.r_[np.ones(len(pos)), -np.ones(len(pos))]


def random_separable(n: int, d: int, margin: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points x ~ N(0, I_d) labelled by a random unit teacher w*, keeping only those with
    |w*ᵀx| ≥ margin (so the data are separable through the origin), numpy ``seed``."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    X = np.empty((0, d))
    while len(X) < n:
        cand = rng.standard_normal((4 * n, d))
        X = np.vstack([X, cand[np.abs(cand @ w) >= margin]])
    X = X[:n]
    return X, np.sign(X @ w)


def hard_margin_svm(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ŵ = argmin ‖w‖ s.t. y_n x_nᵀw ≥ 1 (homogeneous, as GD without bias sees it), by cvxpy
    (Clarabel, its default tolerances ~1e-8). Data that no w separates → IlocoError."""
    import cvxpy as cp

    w = cp.Variable(X.shape[1])
    prob = cp.Problem(cp.Minimize(cp.sum_squares(w)), [cp.multiply(y, X @ w) >= 1])
    prob.solve(solver=cp.CLARABEL)
    if prob.status not in ("optimal", "optimal_inaccurate"):
        raise IlocoError(f"nl: the data are not linearly separable through the origin (SVM status {prob.status})")
    return np.asarray(w.value)


def _loss_and_grad_coef(m: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """ℓ(m) and −ℓ'(m) elementwise for the margins m."""
    if loss == "logistic":
        return torch.nn.functional.softplus(-m), torch.sigmoid(-m)
    e = torch.exp(-m)
    return e, e


def _per_loss(m: torch.Tensor, losses: list[str]) -> torch.Tensor:
    """Σ_n ℓ_c(m_rcn) (R, C) for margins m (R, C, n), cell c with loss ``losses[c]``."""
    return torch.stack([_loss_and_grad_coef(m[:, j], name)[0].sum(1) for j, name in enumerate(losses)], 1)


def _grad_coef(m: torch.Tensor, losses: list[str]) -> torch.Tensor:
    """−ℓ_c'(m_rcn) (R, C, n), computed in place of the margins m (one element-wise op per loss)."""
    m.neg_()
    for j, name in enumerate(losses):
        (torch.sigmoid_ if name == "logistic" else torch.exp_)(m[:, j])
    return m


def train_linear(
    Z: torch.Tensor,
    losses: list[str],
    lr_scale: float,
    record_at: list[int],
    progress: bool = False,
    checkpoint=None,
) -> dict[str, np.ndarray]:
    """GD on L(w) = Σ_n ℓ(z_nᵀw) from w = 0 for data Z (R, n, d) (z_n = y_n x_n), one cell per
    loss, step size lr_scale / ‖Z‖₂² per data set (‖Z‖₂² bounds the Hessian of the
    exponential-tailed losses near w = 0: stable below 2). Runs on the shared engine in
    segments that end at ``record_at`` (increasing step counts; resumable with the engine's
    ``checkpoint``) and records, at each, the loss and w (R, C, d)."""
    from iloco.core import engine as core_engine

    for name in losses:
        _check_loss(name)
    if not (lr_scale > 0 and math.isfinite(lr_scale)):
        raise IlocoError(f"nl: lr_scale must be finite and > 0, got {lr_scale}")
    R, n, d = Z.shape
    C = len(losses)
    lr = lr_scale / torch.linalg.matrix_norm(Z, ord=2) ** 2  # (R,)
    state = {"Z": Z, "Zt": Z.transpose(1, 2).contiguous(), "w": torch.zeros(R, C, d, dtype=Z.dtype, device=Z.device)}
    state["lr"] = lr

    def margins(st):
        return torch.bmm(st["w"], st["Zt"])  # (R, C, n): faster than Z wᵀ for C ≪ d (measured)

    def loss_fn(st):
        return _per_loss(margins(st), losses)

    def step(st, frozen):
        # w -= lr * (-Σ_n coef_n z_n): one bmm (R, C, n) @ (R, n, d), the loss's coefficient per cell
        coef = _grad_coef(margins(st), losses)
        coef.mul_((st["lr"].view(-1, 1, 1) * (~frozen).unsqueeze(2)).to(coef.dtype))
        st["w"].baddbmm_(coef, st["Z"])

    if record_at[0] < 1 or any(b <= a for a, b in zip(record_at, record_at[1:], strict=False)):
        raise IlocoError(f"nl: recording steps must increase, got {list(record_at)}")

    def record(st, t):
        with torch.no_grad():
            return {"loss": loss_fn(st).cpu(), "w": st["w"].cpu().clone()}

    recs = core_engine.run_segments(state, step, loss_fn, record_at, record, "NL1", CHECK_EVERY, progress, checkpoint)
    return {
        "steps": np.array(record_at),
        "loss": np.stack([r["loss"].numpy() for r in recs.records], 1),
        "w": np.stack([r["w"].numpy() for r in recs.records], 1),
        "lr": lr.cpu().numpy(),
    }


def log_steps(max_steps: int, per_decade: int) -> list[int]:
    """Distinct step counts 1 … max_steps spaced evenly in log t, ``per_decade`` per decade."""
    if max_steps < 1 or per_decade < 1:
        raise IlocoError(f"nl: need max_steps >= 1 and per_decade >= 1, got {max_steps}, {per_decade}")
    k = int(round(per_decade * math.log10(max_steps)))
    return sorted({int(round(v)) for v in np.logspace(0, math.log10(max_steps), k + 1)})


def trajectories(name: str, X: np.ndarray, y: np.ndarray, run: dict, losses: list[str]) -> pd.DataFrame:
    """Tidy rows (data set, loss, t) with the loss, ‖w(t)‖, the angle between w(t) and the SVM
    direction, the normalized margin min_n z_nᵀw / ‖w‖ against the SVM's 1/‖ŵ‖, for
    data sets stacked in X (R, n, d), y (R, n)."""
    rows = []
    for r in range(X.shape[0]):
        w_svm = hard_margin_svm(X[r], y[r])
        Z = y[r][:, None] * X[r]
        for j, loss in enumerate(losses):
            W = run["w"][r, :, j]  # (T, d)
            norm = np.linalg.norm(W, axis=1)
            cos = W @ w_svm / np.maximum(norm, 1e-300) / np.linalg.norm(w_svm)
            rows.append(
                pd.DataFrame(
                    {
                        "data": name,
                        "instance": r,
                        "n": X.shape[1],
                        "d": X.shape[2],
                        "loss_fn": loss,
                        "t": run["steps"],
                        "lr": run["lr"][r],
                        "loss": run["loss"][r, :, j],
                        "w_norm": norm,
                        "angle": np.arccos(np.clip(cos, -1, 1)),
                        "margin": (W @ Z.T).min(axis=1) / np.maximum(norm, 1e-300),
                        "svm_norm": np.linalg.norm(w_svm),
                        "svm_margin": 1 / np.linalg.norm(w_svm),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def run_nl1(spec: dict, seed: int, device: torch.device, progress: bool = False, checkpoint=None) -> pd.DataFrame:
    """NL1: Soudry's Figure 1 data and ``random.instances`` random separable data sets, GD with
    each loss on a linear model, and on the first ``homogeneous.instances`` random data sets
    homogeneous networks (deep linear, two-layer ReLU); trajectories on a log grid of steps.
    Column ``model``: linear, or the architecture. With ``checkpoint`` every training has its
    part (``linear-<data>``, the architecture), kept until the caller removes it."""
    losses = list(spec["losses"])
    ts = log_steps(spec["max_steps"], spec["per_decade"])
    parts = []
    X, y = soudry_data(spec["soudry_random"], seed)
    sets = [("soudry", X[None], y[None])]
    rnd = spec["random"]
    data = [random_separable(rnd["n"], rnd["d"], rnd["margin"], seed + 1 + i) for i in range(rnd["instances"])]
    sets.append(("random", np.stack([a for a, _ in data]), np.stack([b for _, b in data])))
    for name, Xb, yb in sets:
        Z = torch.as_tensor(yb[:, :, None] * Xb, dtype=torch.float64, device=device)
        ck = checkpoint.part(f"linear-{name}") if checkpoint else None
        run = train_linear(Z, losses, spec["lr_scale"], ts, progress, ck)
        part = trajectories(name, Xb, yb, run, losses)
        part.insert(1, "model", "linear")
        part["param_margin"] = part["margin"]
        parts.append(part)
    hom = spec["homogeneous"]
    k = min(hom["instances"], rnd["instances"])
    Xh, yh = sets[1][1][:k], sets[1][2][:k]
    ts_h = log_steps(hom["max_steps"], spec["per_decade"])
    svm = [hard_margin_svm(Xh[r], yh[r]) for r in range(k)]
    for arch in hom["archs"]:
        p0 = init_homogeneous(arch, k, len(losses), Xh.shape[2], hom["width"], hom["init_scale"], seed)
        to = {"device": device, "dtype": torch.float64}
        run = train_homogeneous(
            torch.as_tensor(Xh).to(**to),
            torch.as_tensor(yh).to(**to),
            arch,
            {key: v.to(**to) for key, v in p0.items()},
            losses,
            hom["lr"],
            ts_h,
            checkpoint.part(arch) if checkpoint else None,
            progress,
        )
        for r in range(k):
            Z = yh[r][:, None] * Xh[r]
            for j, loss in enumerate(losses):
                row = {
                    "data": "random",
                    "model": arch,
                    "instance": r,
                    "n": Xh.shape[1],
                    "d": Xh.shape[2],
                    "loss_fn": loss,
                    "t": run["steps"],
                    "lr": hom["lr"],
                    "loss": run["loss"][r, :, j],
                    "param_margin": run["margin"][r, :, j],
                    "svm_norm": np.linalg.norm(svm[r]),
                    "svm_margin": 1 / np.linalg.norm(svm[r]),
                }
                if "end_to_end" in run:
                    W = run["end_to_end"][r, :, j]
                    norm = np.linalg.norm(W, axis=1)
                    cos = W @ svm[r] / np.maximum(norm, 1e-300) / np.linalg.norm(svm[r])
                    row.update(
                        w_norm=norm,
                        angle=np.arccos(np.clip(cos, -1, 1)),
                        margin=(W @ Z.T).min(axis=1) / np.maximum(norm, 1e-300),
                    )
                parts.append(pd.DataFrame(row))
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- homogeneous networks
ARCHS = ("linear2", "linear3", "relu2")


def _homogeneous_forward(p: dict[str, torch.Tensor], X: torch.Tensor, arch: str) -> torch.Tensor:
    """Outputs (R, C, n) of batched networks without biases, homogeneous of degree L in their
    parameters: ``linearL`` = the deep linear network w_Lᵀ W_{L−1}⋯W_1 x (L = 2, 3), ``relu2``
    = Σ_j a_j relu(u_jᵀx). X (R, n, d); parameters (R, C, …)."""
    h = torch.einsum("rnd,rcdk->rcnk", X, p["W1"])
    if arch == "relu2":
        h = torch.relu(h)
    if arch == "linear3":
        h = h @ p["W2"]
    return (h @ p["v"].unsqueeze(3)).squeeze(3)


def _homogeneous_grads(
    p: dict[str, torch.Tensor], arch: str, losses: list[str]
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """∇ Σ_n ℓ_c(y_n f(x_n)) for each parameter (same shapes), by hand, and dL/df (R, C, n): for
    the deep linear networks through the end-to-end vector w = W₁(W₂)v (no (n × width) products
    at all), for ``relu2`` by two batched matmuls. Equal to autograd's to rounding (tested);
    10–50× fewer operations per step than autograd's graph at NL1's shapes."""
    X, Xt, y = p["X"], p["Xt"], p["y"].unsqueeze(1)  # (R, n, d), (R, d, n) contiguous, (R, 1, n)
    v = p["v"]
    R, C, d, k = p["W1"].shape
    if arch == "relu2":  # one (n × d)(d × C·width) product each way, cells side by side
        h = torch.bmm(X, p["W1"].permute(0, 2, 1, 3).reshape(R, d, C * k))  # (R, n, C·k)
        a = torch.relu(h)
        eye = torch.eye(C, dtype=v.dtype, device=v.device).view(1, C, 1, C)
        vb = (v.unsqueeze(3) * eye).reshape(R, C * k, C)  # block-diagonal output weights
        m = torch.bmm(a, vb).transpose(1, 2).mul_(y)
        g = _grad_coef(m, losses).mul_(y).neg_()  # dL/df (R, C, n)
        dh = torch.ops.aten.threshold_backward(torch.bmm(g.transpose(1, 2), vb.transpose(1, 2)), a, 0)  # (R, n, C·k)
        dW1 = torch.bmm(Xt, dh).view(R, d, C, k).permute(0, 2, 1, 3)
        dv = torch.bmm(g, a).view(R, C, C, k).diagonal(dim1=1, dim2=2)  # (R, k, C): Σ_n g_rcn a_rnck
        return {"W1": dW1, "v": dv.permute(0, 2, 1)}, g
    u = (p["W2"] @ v.unsqueeze(3)).squeeze(3) if arch == "linear3" else v  # (R, C, k)
    w = (p["W1"] @ u.unsqueeze(3)).squeeze(3)  # end-to-end (R, C, d)
    m = torch.bmm(w, Xt).mul_(y)
    g = _grad_coef(m, losses).mul_(y).neg_()
    xg = torch.bmm(g, X)  # ∇_w L (R, C, d)
    a1 = (xg.unsqueeze(2) @ p["W1"]).squeeze(2)  # W₁ᵀ ∇_w L (R, C, k)
    grads = {"W1": xg.unsqueeze(3) * u.unsqueeze(2)}
    if arch == "linear3":
        grads["W2"] = a1.unsqueeze(3) * v.unsqueeze(2)
        grads["v"] = (a1.unsqueeze(2) @ p["W2"]).squeeze(2)
    else:
        grads["v"] = a1
    return grads, g


def degree(arch: str) -> int:
    """The homogeneity degree L: f(cθ) = c^L f(θ)."""
    return 3 if arch == "linear3" else 2


def init_homogeneous(arch: str, R: int, C: int, d: int, width: int, scale: float, seed: int) -> dict[str, torch.Tensor]:
    """Gaussian init (fan-in scaled, times ``scale``), float64, one draw per (row, cell)."""
    if arch not in ARCHS:
        raise IlocoError(f"nl: architecture {arch!r} is not one of {', '.join(ARCHS)}")
    g = torch.Generator().manual_seed(seed)
    p = {"W1": torch.randn(R, C, d, width, generator=g, dtype=torch.float64) / math.sqrt(d)}
    if arch == "linear3":
        p["W2"] = torch.randn(R, C, width, width, generator=g, dtype=torch.float64) / math.sqrt(width)
    p["v"] = torch.randn(R, C, width, generator=g, dtype=torch.float64) / math.sqrt(width)
    return {k: scale * v for k, v in p.items()}


def train_homogeneous(
    X: torch.Tensor,
    y: torch.Tensor,
    arch: str,
    params: dict,
    losses: list[str],
    lr: float,
    record_at: list[int],
    checkpoint=None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """GD on Σ_n ℓ(y_n f(x_n)) for homogeneous networks (gradients by ``_homogeneous_grads``;
    step min(lr, 1/λ̂), λ̂ a bound on the loss Hessian, so that no cell diverges), one cell per
    loss, on the shared engine in segments ending at ``record_at`` (resumable with
    ``checkpoint``); records the loss, the normalized margin
    min_n y_n f(x_n) / ‖θ‖^L, and for linear networks the end-to-end vector."""
    from iloco.core import engine as core_engine

    for name in losses:
        _check_loss(name)
    if len(losses) != next(iter(params.values())).shape[1]:
        raise IlocoError(f"nl: {len(losses)} losses need as many cells in the parameters")
    names = sorted(params)
    state = {"X": X, "Xt": X.transpose(1, 2).contiguous(), "y": y, **{k: v.clone() for k, v in params.items()}}
    state["x2"] = torch.linalg.matrix_norm(X, ord=2) ** 2  # ‖X‖₂² per data set
    state["xn"] = torch.linalg.vector_norm(X, dim=2)  # ‖x_n‖
    L = degree(arch)

    def per_loss(st):
        return _per_loss(st["y"].unsqueeze(1) * _homogeneous_forward(st, st["X"], arch), losses)

    def step(st, frozen):
        grads, g = _homogeneous_grads(st, arch, losses)
        # η = min(lr, 1/λ̂), λ̂ ≥ the loss Hessian's norm: with c_n = |dL/df_n| ≥ ℓ''(m_n),
        # ‖Jᵀ diag(ℓ'') J‖ ≤ L max c ‖X‖₂² ‖θ‖^{2(L−1)} and ‖Σ c_n y_n ∇²f_n‖ ≤ L(L−1) Σ c_n ‖x_n‖ ‖θ‖^{L−2}.
        # The exponential loss at a fixed step diverges early at NL1's paper scale (n = 200);
        # once the loss is small the bound exceeds 1/lr and the step is lr.
        c = g.abs_()
        sq = sum((st[k] * st[k]).flatten(2).sum(2) for k in names)  # ‖θ‖² (R, C)
        lam = L * c.amax(2) * st["x2"].unsqueeze(1) * sq ** (L - 1)
        lam = lam + L * (L - 1) * (c * st["xn"].unsqueeze(1)).sum(2) * sq ** ((L - 2) / 2)
        eta = torch.where(frozen, torch.zeros_like(lam), torch.clamp(1 / lam, max=lr))
        for k, gk in grads.items():
            st[k].sub_(gk.mul_(eta.reshape(*eta.shape, *([1] * (gk.ndim - 2)))))

    def record(st, t):
        with torch.no_grad():
            m = st["y"].unsqueeze(1) * _homogeneous_forward(st, st["X"], arch)
            norm = torch.sqrt(sum((st[k] ** 2).flatten(2).sum(2) for k in names))
            rec = {"margin": (m.amin(2) / norm**L).cpu(), "loss": per_loss(st).cpu()}
            if arch.startswith("linear"):
                w = st["W1"] @ (st["W2"] @ st["v"].unsqueeze(3) if arch == "linear3" else st["v"].unsqueeze(3))
                rec["end_to_end"] = w.squeeze(3).cpu()
        return rec

    recs = core_engine.run_segments(
        state, step, per_loss, record_at, record, f"NL1 {arch}", CHECK_EVERY, progress, checkpoint
    ).records
    return {"steps": np.array(record_at), **{k: np.stack([r[k].numpy() for r in recs], 1) for k in recs[0]}}
