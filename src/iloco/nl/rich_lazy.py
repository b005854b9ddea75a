"""NL2: wide two-layer students from small to large init on a teacher's data (rich against
lazy), and MLPs on scikit-learn's digits with their spectra and rank-k truncation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from iloco.core.engine import resolve_dtype
from iloco.core.errors import IlocoError
from iloco.nl.analysis import direction_clusters, effective_rank, stable_rank


def run_teacher_regimes(
    spec: dict, seed: int, device: torch.device, progress: bool = False, checkpoint=None
) -> pd.DataFrame:
    """NL2 on teacher data: wide two-layer students (width ≫ teacher width) trained by GD from
    several init scales (small = rich, standard, large = lazy), one run per scale with the ID3
    trainer, each student until its relative training error is ``tol_loss`` times what the best
    linear fit leaves (:func:`iloco.ident.chain.linear_residual`) or the step budget: the scales are compared at
    equal training loss (a small-init student's rank grows as it keeps fitting), and at the same
    share of each teacher's nonlinear part (a teacher's linear part is fit first, with one
    direction, and how much of the teacher it is varies: 4e-4 to 1.5e-2 of its variance at
    paper scale); per student the effective and stable rank of the first layer, the number of
    directions its neurons align into, how far the first layer moved from its init, and the
    test error against the teacher. The students train in ``dtype`` (float32 at paper scale:
    the tanh passes and matmuls take about half the time); data, inits and everything reported
    are computed in float64. With ``checkpoint`` every scale's run has its part (``scale<j>``),
    kept until the caller removes it."""
    from iloco.core import engine
    from iloco.ident import chain, networks

    T, d = spec["teachers"], spec["d"]
    teachers = networks.shallow_networks(T, d, spec["teacher_width"], "tanh", 0.0, seed, 0.5)
    X = chain.gaussian_inputs(T, spec["n_train"], d, seed, 101)
    Xt = chain.gaussian_inputs(T, spec["n_test"], d, seed, 102)
    y, yt = teachers.forward(X), teachers.forward(Xt)
    lin = chain.linear_residual(X, y)
    scales = [float(s) for s in spec["init_scales"]]
    W0, c0, b0 = chain.init_students(T, len(scales), d, spec["width"], scales, seed, 103)
    stop = engine.StopRule(spec["max_steps"], spec["tol_loss"], 0.0, 100)
    to = {"device": device, "dtype": engine.resolve_dtype(spec["dtype"])}
    f64 = {"device": device, "dtype": torch.float64}
    # the step is lr / max(1, s²): a large init has an s²-times steeper loss
    rows = []
    for j, s in enumerate(scales):
        res = chain.train_students(
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
            loss_scale=lin,
        )
        W, c, b = (res.state[k][:, 0].to(torch.float64) for k in ("W", "c", "b"))
        f = chain.student_net(W.to(**f64), c.to(**f64), b.to(**f64), "tanh")
        with torch.no_grad():
            err = ((f(Xt.to(**f64)) - yt.to(**f64)) ** 2).mean(1) / (yt.to(**f64) ** 2).mean(1)
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
                    "tol_loss": float(spec["tol_loss"]),
                    "linear_residual": float(lin[i]),
                    "unfit_share": float(res.loss[i, 0]),
                    "train_loss": float(res.loss[i, 0]) * float(lin[i]),
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
    dtype: torch.dtype = torch.float64,
) -> dict[str, torch.Tensor]:
    """Full-batch GD on the cross-entropy of ReLU MLPs, rows = ``seeds`` initializations, cells
    = init ``scales`` (fan-in Gaussian weights times the scale, zero biases, drawn in float64
    whatever ``dtype`` the training runs in), one engine run (resumable with ``checkpoint``)."""
    from iloco.core import engine

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
    p = {k: v.to(dtype).clone() for k, v in p.items()}
    Xtr = Xtr.to(dtype)
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


def run_digits(spec: dict, seed: int, progress: bool = False, checkpoint=None) -> pd.DataFrame:
    """NL2 on real data: MLPs on digits from each init scale; per network and rank k, the test
    accuracy after truncating W1 and W2 to rank k (W3 has rank ≤ 10) against the parameters
    kept, plus the singular values of W1 and W2 (rows with k = 0 hold the spectra)."""
    Xtr, ytr, Xte, yte = digits_data(spec["test_fraction"], seed)
    scales, lr = spec["init_scales"], spec["lr"]
    dtype = resolve_dtype(spec["dtype"])
    p = train_digits(
        Xtr, ytr, spec["hidden"], scales, spec["seeds"], lr, spec["steps"], seed, checkpoint, progress, dtype
    )
    p = {k: v.to(torch.float64) for k, v in p.items()}
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


def truncate(W: torch.Tensor, k: int) -> torch.Tensor:
    """Best rank-k approximation of each matrix in W (…, m, n) (truncated SVD)."""
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    S = S.clone()
    S[..., k:] = 0
    return (U * S.unsqueeze(-2)) @ Vh
