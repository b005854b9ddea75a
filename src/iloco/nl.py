"""NL family: nonlinear networks and classification; here NL1, the implicit bias of gradient
descent on separable data.

On linearly separable data (z_n = y_n x_n), gradient descent on L(w) = Σ_n ℓ(z_nᵀw) with an
exponential-tailed loss ℓ (logistic, exponential) drives L → 0 like 1/t while ‖w(t)‖ grows
like ‖ŵ‖·log t and w(t)/‖w(t)‖ turns to the hard-margin SVM direction ŵ = argmin{‖w‖ :
z_nᵀw ≥ 1} (Soudry, Hoffer, Nacson, Gunasekar, Srebro, JMLR 2018): the norm grows by
ln(10)·‖ŵ‖ per decade of t and the angle to ŵ decays like 1/log t. Trials (data sets ×
losses) run as one batch on the shared engine (checkpointed: every training of a job resumes
after a kill); the SVM is a convex program (cvxpy).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from iloco import published
from iloco.errors import IlocoError

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
    pos = np.vstack([np.array(published.SOUDRY_SUPPORT), np.array(pts).reshape(-1, 2)])
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
    from iloco import engine

    for name in losses:
        _check_loss(name)
    if not (lr_scale > 0 and math.isfinite(lr_scale)):
        raise IlocoError(f"nl: lr_scale must be finite and > 0, got {lr_scale}")
    R, n, d = Z.shape
    C = len(losses)
    lr = lr_scale / torch.linalg.matrix_norm(Z, ord=2) ** 2  # (R,)
    state = {"Z": Z, "w": torch.zeros(R, C, d, dtype=Z.dtype, device=Z.device), "lr": lr}

    def margins(st):
        return torch.einsum("rnd,rcd->rcn", st["Z"], st["w"])

    def loss_fn(st):
        m = margins(st)
        return torch.stack([_loss_and_grad_coef(m[:, j], name)[0].sum(1) for j, name in enumerate(losses)], 1)

    def step(st, frozen):
        m = margins(st)
        coef = torch.stack([_loss_and_grad_coef(m[:, j], name)[1] for j, name in enumerate(losses)], 1)
        grad = -torch.einsum("rcn,rnd->rcd", coef, st["Z"])
        st["w"] -= (st["lr"].view(-1, 1, 1) * grad) * (~frozen).unsqueeze(2)

    if record_at[0] < 1 or any(b <= a for a, b in zip(record_at, record_at[1:], strict=False)):
        raise IlocoError(f"nl: recording steps must increase, got {list(record_at)}")

    def record(st, t):
        with torch.no_grad():
            return {"loss": loss_fn(st).cpu(), "w": st["w"].cpu().clone()}

    recs = engine.run_segments(state, step, loss_fn, record_at, record, "NL1", CHECK_EVERY, progress, checkpoint)
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


def norm_slope_per_decade(t: np.ndarray, norm: np.ndarray, decades: float = 1.0) -> float:
    """Least-squares slope of ‖w‖ against log₁₀ t over the last ``decades`` decades."""
    keep = t >= t.max() / 10**decades
    return float(np.polyfit(np.log10(t[keep]), norm[keep], 1)[0])


def loss_exponent(t: np.ndarray, loss: np.ndarray, decades: float = 1.0) -> float:
    """Least-squares slope of log L against log t over the last ``decades`` decades (−1 for 1/t)."""
    keep = t >= t.max() / 10**decades
    return float(np.polyfit(np.log10(t[keep]), np.log10(loss[keep]), 1)[0])


def linear_run_stats(table: pd.DataFrame, data: str) -> pd.DataFrame:
    """Per linear run (instance, loss) of the NL1 table on ``data``: the loss exponent and the
    norm growth per decade as a fraction of ln(10)·‖ŵ‖ (both over the last decade of t), the
    angle to the SVM direction (radians) at the last and at the middle recording, and the final
    normalized margin as a fraction of the SVM's."""
    part = table[(table["model"] == "linear") & (table["data"] == data)]
    rows = []
    for _, g in part.groupby(["instance", "loss_fn"]):
        g = g.sort_values("t")
        t = g["t"].to_numpy()
        rows.append(
            {
                "exponent": loss_exponent(t, g["loss"].to_numpy()),
                "ratio": norm_slope_per_decade(t, g["w_norm"].to_numpy()) / (math.log(10) * g["svm_norm"].iloc[0]),
                "angle": float(g["angle"].iloc[-1]),
                "angle_mid": float(g["angle"].iloc[len(g) // 2]),
                "margin": float(g["margin"].iloc[-1] / g["svm_margin"].iloc[0]),
            }
        )
    return pd.DataFrame(rows, columns=["exponent", "ratio", "angle", "angle_mid", "margin"])


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
    """GD (autograd) on Σ_n ℓ(y_n f(x_n)) for homogeneous networks, one cell per loss, on the
    shared engine in segments ending at ``record_at`` (resumable with ``checkpoint``); records
    the loss and the normalized margin min_n y_n f(x_n) / ‖θ‖^L, and for linear networks the
    end-to-end vector."""
    from iloco import engine

    for name in losses:
        _check_loss(name)
    if len(losses) != next(iter(params.values())).shape[1]:
        raise IlocoError(f"nl: {len(losses)} losses need as many cells in the parameters")
    names = sorted(params)
    state = {"X": X, "y": y, **{k: v.clone() for k, v in params.items()}}
    L = degree(arch)

    def per_loss(st):
        m = st["y"].unsqueeze(1) * _homogeneous_forward(st, st["X"], arch)
        return torch.stack([_loss_and_grad_coef(m[:, j], name)[0].sum(1) for j, name in enumerate(losses)], 1)

    def step(st, frozen):
        with torch.enable_grad():
            ps = {k: st[k].detach().requires_grad_(True) for k in names}
            total = per_loss({**st, **ps}).sum()
            grads = torch.autograd.grad(total, [ps[k] for k in names])
        keep = (~frozen).to(X.dtype)
        for k, gk in zip(names, grads, strict=True):
            st[k] -= lr * gk * keep.reshape(*keep.shape, *([1] * (gk.ndim - 2)))

    def record(st, t):
        with torch.no_grad():
            m = st["y"].unsqueeze(1) * _homogeneous_forward(st, st["X"], arch)
            norm = torch.sqrt(sum((st[k] ** 2).flatten(2).sum(2) for k in names))
            rec = {"margin": (m.amin(2) / norm**L).cpu(), "loss": per_loss(st).cpu()}
            if arch.startswith("linear"):
                w = st["W1"] @ (st["W2"] @ st["v"].unsqueeze(3) if arch == "linear3" else st["v"].unsqueeze(3))
                rec["end_to_end"] = w.squeeze(3).cpu()
        return rec

    recs = engine.run_segments(
        state, step, per_loss, record_at, record, f"NL1 {arch}", CHECK_EVERY, progress, checkpoint
    ).records
    return {"steps": np.array(record_at), **{k: np.stack([r[k].numpy() for r in recs], 1) for k in recs[0]}}


# ----------------------------------------------------------------------------- NL2: rich vs lazy
def effective_rank(W: np.ndarray) -> float:
    """exp of the entropy of the normalized singular values (Roy & Vetterli 2007)."""
    s = np.linalg.svd(W, compute_uv=False)
    p = s / max(s.sum(), 1e-300)
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


def stable_rank(W: np.ndarray) -> float:
    """‖W‖_F² / ‖W‖₂²."""
    s = np.linalg.svd(W, compute_uv=False)
    return float((s**2).sum() / max(s[0] ** 2, 1e-300))


def direction_clusters(W: np.ndarray, b: np.ndarray, mass: float = 0.99, cos: float = 0.99) -> int:
    """How many directions the neurons w_j (columns of W, d × m) of a two-layer network align
    into: the neurons carrying a fraction ``mass`` of Σ_j |b_j|‖w_j‖, grouped greedily (by
    decreasing weight) with |cos| ≥ ``cos`` to a group's first neuron."""
    norms = np.linalg.norm(W, axis=0)
    weight = np.abs(b) * norms
    order = np.argsort(-weight)
    keep = order[: int(np.searchsorted(np.cumsum(weight[order]), mass * weight.sum()) + 1)]
    units = W[:, keep] / np.maximum(norms[keep], 1e-300)
    heads: list[np.ndarray] = []
    for u in units.T:
        if not any(abs(u @ h) >= cos for h in heads):
            heads.append(u)
    return len(heads)


def run_teacher_regimes(
    spec: dict, seed: int, device: torch.device, progress: bool = False, checkpoint=None
) -> pd.DataFrame:
    """NL2 on teacher data: wide two-layer students (width ≫ teacher width) trained by GD from
    several init scales (small = rich, standard, large = lazy), one run per scale with the ID3
    trainer; per student the effective and stable rank of the first layer, the number of
    directions its neurons align into, how far the first layer moved from its init, and the
    test error against the teacher. With ``checkpoint`` every scale's run has its part
    (``scale<j>``), kept until the caller removes it."""
    from iloco import engine, ident

    T, d = spec["teachers"], spec["d"]
    teachers = ident.shallow_networks(T, d, spec["teacher_width"], "tanh", 0.0, seed, 0.5)
    X = ident.gaussian_inputs(T, spec["n_train"], d, seed, 101)
    Xt = ident.gaussian_inputs(T, spec["n_test"], d, seed, 102)
    y, yt = teachers.forward(X), teachers.forward(Xt)
    scales = [float(s) for s in spec["init_scales"]]
    W0, c0, b0 = ident.init_students(T, len(scales), d, spec["width"], scales, seed, 103)
    stop = engine.StopRule(spec["max_steps"], spec["tol_loss"], 0.0, 100)
    to = {"device": device, "dtype": torch.float64}
    # the step is lr / max(1, s²): a large init has an s²-times steeper loss
    rows = []
    for j, s in enumerate(scales):
        res = ident.train_students(
            X.to(**to),
            y.to(**to),
            W0[:, j : j + 1].to(**to),
            c0[:, j : j + 1].to(**to),
            b0[:, j : j + 1].to(**to),
            activation="tanh",
            optimizer="gd",
            lr=spec["lr"] / max(1.0, s * s),
            stop=stop,
            desc=f"NL2 scale {s:g}",
            progress=progress,
            checkpoint=checkpoint.part(f"scale{j}") if checkpoint else None,
        )
        W, c, b = (res.state[k][:, 0] for k in ("W", "c", "b"))
        f = ident.student_net(W.to(**to), c.to(**to), b.to(**to), "tanh")
        with torch.no_grad():
            err = ((f(Xt.to(**to)) - yt.to(**to)) ** 2).mean(1) / (yt.to(**to) ** 2).mean(1)
        for i in range(T):
            Wi = W[i].numpy()
            ok = bool(np.isfinite(Wi).all())
            rows.append(
                {
                    "teacher": i,
                    "d": d,
                    "teacher_width": spec["teacher_width"],
                    "width": spec["width"],
                    "init_scale": s,
                    "train_loss": res.loss[i, 0],
                    "steps": int(res.steps[i, 0]),
                    "status": engine.STATUS[res.status[i, 0]],
                    "test_rel_mse": float(err[i]) if ok else math.nan,
                    "effective_rank": effective_rank(Wi) if ok else math.nan,
                    "stable_rank": stable_rank(Wi) if ok else math.nan,
                    "directions": direction_clusters(Wi, b[i].numpy()) if ok else -1,
                    "rel_change": float(np.linalg.norm(Wi - W0[i, j].numpy()) / np.linalg.norm(W0[i, j].numpy()))
                    if ok
                    else math.nan,
                }
            )
    return pd.DataFrame(rows)


DIGITS_LAYERS = ("W1", "W2", "W3")


def digits_data(test_fraction: float, seed: int) -> tuple[torch.Tensor, ...]:
    """scikit-learn's digits (1797 8×8 images, shipped with the package: no download), split
    at random (numpy ``seed``) and standardized with the training statistics."""
    from sklearn.datasets import load_digits

    if not 0 < test_fraction < 1:
        raise IlocoError(f"nl: test_fraction must be in (0, 1), got {test_fraction}")
    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    te, tr = perm[:n_test], perm[n_test:]
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
    f = lambda a: torch.as_tensor((a - mu) / sd, dtype=torch.float64)  # noqa: E731
    return f(X[tr]), torch.as_tensor(y[tr]), f(X[te]), torch.as_tensor(y[te])


def _mlp_logits(p: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """Logits (R, C, n, 10) of batched ReLU MLPs 64 → h → h → 10 for inputs X (n, 64)."""
    h = torch.relu(X @ p["W1"] + p["b1"].unsqueeze(2))
    h = torch.relu(h @ p["W2"] + p["b2"].unsqueeze(2))
    return h @ p["W3"] + p["b3"].unsqueeze(2)


def train_digits(
    Xtr: torch.Tensor,
    ytr: torch.Tensor,
    hidden: int,
    scales: list[float],
    seeds: int,
    lr: float,
    steps: int,
    seed: int,
    checkpoint=None,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """Full-batch GD on the cross-entropy of ReLU MLPs, rows = ``seeds`` initializations, cells
    = init ``scales`` (fan-in Gaussian weights times the scale, zero biases), one engine run
    (resumable with ``checkpoint``)."""
    from iloco import engine

    g = torch.Generator().manual_seed(seed)
    R, C, d = seeds, len(scales), Xtr.shape[1]
    s = torch.tensor(scales, dtype=torch.float64).view(1, C, 1, 1)
    p = {
        "W1": torch.randn(R, 1, d, hidden, generator=g, dtype=torch.float64).expand(R, C, d, hidden) / math.sqrt(d) * s,
        "W2": torch.randn(R, 1, hidden, hidden, generator=g, dtype=torch.float64).expand(R, C, hidden, hidden)
        / math.sqrt(hidden)
        * s,
        "W3": torch.randn(R, 1, hidden, 10, generator=g, dtype=torch.float64).expand(R, C, hidden, 10)
        / math.sqrt(hidden)
        * s,
        "b1": torch.zeros(R, C, hidden, dtype=torch.float64),
        "b2": torch.zeros(R, C, hidden, dtype=torch.float64),
        "b3": torch.zeros(R, C, 10, dtype=torch.float64),
    }
    p = {k: v.clone() for k, v in p.items()}
    names = sorted(p)
    state = {**p, "idx": ytr.expand(R, -1).clone()}

    def loss(st):
        logits = _mlp_logits(st, Xtr)
        lab = st["idx"].unsqueeze(1).expand(-1, logits.shape[1], -1)
        return torch.nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), lab, reduction="none").mean(2)

    def step(st, frozen):
        with torch.enable_grad():
            ps = {k: st[k].detach().requires_grad_(True) for k in names}
            total = loss({**st, **ps}).sum()
            grads = torch.autograd.grad(total, [ps[k] for k in names])
        keep = (~frozen).to(Xtr.dtype)
        for k, gk in zip(names, grads, strict=True):
            st[k] -= lr * gk * keep.reshape(*keep.shape, *([1] * (gk.ndim - 2)))

    stop = engine.fixed_steps(steps, max(1, min(100, steps)))
    engine.run_batched(state, step, loss, stop, "NL2 digits", progress, checkpoint)
    return {k: state[k] for k in names}


def truncate(W: torch.Tensor, k: int) -> torch.Tensor:
    """Best rank-k approximation of each matrix in W (…, m, n) (truncated SVD)."""
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    S = S.clone()
    S[..., k:] = 0
    return (U * S.unsqueeze(-2)) @ Vh


def run_digits(spec: dict, seed: int, progress: bool = False, checkpoint=None) -> pd.DataFrame:
    """NL2 on real data: MLPs on digits from each init scale; per network and rank k, the test
    accuracy after truncating W1 and W2 to rank k (W3 has rank ≤ 10) against the parameters
    kept, plus the singular values of W1 and W2 (rows with k = 0 hold the spectra)."""
    Xtr, ytr, Xte, yte = digits_data(spec["test_fraction"], seed)
    scales, lr = spec["init_scales"], spec["lr"]
    p = train_digits(Xtr, ytr, spec["hidden"], scales, spec["seeds"], lr, spec["steps"], seed, checkpoint, progress)
    h = spec["hidden"]
    rows = []
    full = {"W1": 64 * h, "W2": h * h, "W3": h * 10}
    for k in sorted(set(spec["ranks"]) | {h}):
        q = dict(p)
        for name in ("W1", "W2"):
            q[name] = truncate(p[name], k)
        with torch.no_grad():
            acc = (_mlp_logits(q, Xte).argmax(3) == yte).to(torch.float64).mean(2)
        kept = sum(min(k * sum(p[n].shape[-2:]), full[n]) for n in ("W1", "W2")) + full["W3"] + 2 * h + 10
        total = sum(full.values()) + 2 * h + 10
        for r in range(spec["seeds"]):
            for j, s in enumerate(spec["init_scales"]):
                rows.append(
                    {
                        "kind": "truncation",
                        "seed": r,
                        "init_scale": s,
                        "rank": k,
                        "accuracy": float(acc[r, j]),
                        "params_kept": kept,
                        "params_total": total,
                    }
                )
    for name in ("W1", "W2"):
        S = torch.linalg.svdvals(p[name])
        for r in range(spec["seeds"]):
            for j, s in enumerate(spec["init_scales"]):
                for i, v in enumerate(S[r, j].tolist()):
                    rows.append(
                        {
                            "kind": f"spectrum_{name}",
                            "seed": r,
                            "init_scale": s,
                            "rank": i + 1,
                            "sigma": v,
                            "effective_rank": effective_rank(p[name][r, j].numpy()),
                        }
                    )
    return pd.DataFrame(rows)
