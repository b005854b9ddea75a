"""ID3, the chain: over-parameterized students trained by GD on teachers' data, identified
from queries alone and compressed, against Adam fitting the teacher's architecture on the same
query budget; and the equal-budget comparison on networks of known width."""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import pandas as pd
import torch

from iloco.core.errors import IlocoError
from iloco.ident.networks import (
    ACTIVATIONS,
    ADAM,
    CPU,
    DATA,
    STUDENT,
    TEST,
    Oracle,
    ShallowNets,
    check_activation,
    generator,
    oracle_of,
    shallow_networks,
    sphere_points,
)
from iloco.ident.shallow import ShallowNet, identify_shallow, match_directions, relative_errors

# --------------------------------------------------------------------------- training students (ID3)
#: Optimizers of the student trainer: plain gradient descent (the object of study) and Adam
#: (the baseline that fits a network to a query budget).
OPTIMIZERS = ("gd", "adam")


def _student_forward(X, W, c, b, activation):
    """f(x) = Σ_j b_j g(w_jᵀx + c_j) for X (R, 1|C, n, d), W (R, C, d, m), c, b (R, C, m):
    outputs (R, C, n) and the activations (g, g') at the pre-activations; plain, the reference
    the tests hold the trainer's fused, chunked code to."""
    g, dg, _ = ACTIVATIONS[activation](X @ W + c.unsqueeze(2))
    return (g @ b.unsqueeze(3)).squeeze(3), g, dg


#: activation → (g applied in place, z ↦ g(z); (grad, g) ↦ grad·g'(z) from the output alone)
_FUSED = {
    "tanh": (torch.Tensor.tanh_, torch.ops.aten.tanh_backward),
    "sigmoid": (torch.Tensor.sigmoid_, torch.ops.aten.sigmoid_backward),
}


def _ones_column(X):
    """X (R, C, n, d) → (R·C, n, d + 1) with a column of ones: the offset c rides in the matmuls."""
    R, C, n, d = X.shape
    return torch.cat([X, X.new_ones(R, C, n, 1)], 3).reshape(R * C, n, d + 1)


#: on a CPU the students go through the gradient in chunks of about this many activations
#: (float64: 1 MiB, within a core's L2 cache): at ID3's paper shape the whole batch's n × m
#: arrays (128 MB) make every pass a trip to memory; on a GPU the batch goes whole
CPU_CHUNK = 2**17


def _packed(W, c, b):
    """W (R, C, d, m), c, b (R, C, m) → P = [W; c] (R·C, d + 1, m) and b as (R·C, m, 1)."""
    R, C, d, m = W.shape
    return torch.cat([W, c.unsqueeze(2)], 2).reshape(R * C, d + 1, m), b.reshape(R * C, m, 1)


def _chunk(X1, P) -> int:
    """Students per chunk: all of them on a GPU, about ``CPU_CHUNK`` activations on a CPU."""
    return P.shape[0] if X1.device.type != "cpu" else max(1, CPU_CHUNK // (X1.shape[1] * P.shape[2]))


def _activations(X1, P, activation):
    """g at the pre-activations X1 P of one chunk (in place of them), and g' where no fused
    backward computes it from g (None for ``_FUSED`` activations)."""
    Z = torch.bmm(X1, P)
    if activation in _FUSED:
        return _FUSED[activation][0](Z), None
    g, dg, _ = ACTIVATIONS[activation](Z)
    return g, dg


def student_outputs(X1, W, c, b, activation):
    """f (R, C, n) of the students at the rows of ``X1`` (``_ones_column``), chunked as the gradient."""
    R, C = W.shape[:2]
    P, bb = _packed(W, c, b)
    f = X1.new_empty(R * C, X1.shape[1], 1)
    step = _chunk(X1, P)
    for s in range(0, R * C, step):
        k = slice(s, s + step)
        torch.bmm(_activations(X1[k], P[k], activation)[0], bb[k], out=f[k])
    return f.reshape(R, C, -1)


def student_gradients(X, y, W, c, b, activation, X1=None):
    """Gradients of ½·mean_n (f(x_n) − y_n)² in W, c, b, batched over (R, C) as in ``_student_forward``
    (y (R, 1|C, n)); written out. The offset rides as a ones column of X (``X1``: pass
    ``_ones_column(X)`` to reuse it), b_j scales columns of the small results rather than the
    n × m arrays, and for tanh and sigmoid g' comes from g in one fused pass: seven passes over
    the n × m activations per student and step, three of them batched matmuls, on a CPU a
    chunk of students at a time (``CPU_CHUNK``; the students are independent)."""
    R, C, d, m = W.shape
    n = X.shape[2]
    X1 = _ones_column(X.expand(R, C, n, d)) if X1 is None else X1
    P, bb = _packed(W, c, b)
    yy = y.expand(R, C, n).reshape(R * C, n)
    gP, gb = torch.empty_like(P), torch.empty_like(bb)
    step = _chunk(X1, P)
    for s in range(0, R * C, step):
        k = slice(s, s + step)
        g, dg = _activations(X1[k], P[k], activation)
        r = (torch.bmm(g, bb[k]).squeeze(2) - yy[k]) / n
        torch.bmm(g.mT, r.unsqueeze(2), out=gb[k])
        dz = _FUSED[activation][1](r.unsqueeze(2), g) if dg is None else dg.mul_(r.unsqueeze(2))
        torch.bmm(X1[k].mT, dz, out=gP[k])
    gP.mul_(bb.mT)
    return gP[:, :d].reshape(R, C, d, m), gP[:, d].reshape(R, C, m), gb.reshape(R, C, m)


def mini_batches(n: int, batch_size: int | None, key: tuple[int, ...], device) -> tuple[int, object]:
    """The batch size (n: full batch when ``batch_size`` is None or >= n) and the indices of
    step k (0-based): slice k mod n//bs of a permutation of range(n) drawn from (key, epoch)."""
    bs = n if batch_size is None or batch_size >= n else int(batch_size)
    if bs < 1:
        raise IlocoError(f"id: batch_size must be >= 1, got {batch_size}")
    perms: dict[int, torch.Tensor] = {}

    def batch(k: int) -> torch.Tensor:
        e, i = divmod(k, n // bs)
        if e not in perms:
            perms.clear()
            perms[e] = torch.randperm(n, generator=generator(*key, e)).to(device)
        return perms[e][i * bs : (i + 1) * bs]

    return bs, batch


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
    loss_scale: torch.Tensor | None = None,
    batch_size: int | None = None,
    batch_key: tuple[int, ...] = (0,),
    cosine: bool = False,
):
    """Train shallow students f = Σ_j b_j g(w_jᵀx + c_j) on (X (R, n, d), y (R, n)) by ``gd``
    or ``adam`` with the shared engine: rows R (e.g. teachers), cells C (init scales or
    restarts) in W (R, C, d, m), c, b (R, C, m), all cells of a row on the same data. The
    engine's loss is the relative MSE mean (f − y)² / mean y² on all n points (``stop``'s
    tolerance is relative), divided by ``loss_scale`` (R,) if given (NL2: each teacher's linear
    residual); the steps do not depend on it. Full batch by default; with ``batch_size`` < n,
    ``mini_batches`` keyed by ``batch_key``: the same indices for every row, so a row's steps
    do not depend on the rows beside it, and a step's cost not on n. ``cosine`` decays the
    step from ``lr`` to 0 over ``stop.max_steps``. Returns the engine's RunResult."""
    from iloco.core import engine as core_engine

    check_activation(activation)
    if optimizer not in OPTIMIZERS:
        raise IlocoError(f"id: optimizer {optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
    if not (lr > 0 and math.isfinite(lr)):
        raise IlocoError(f"id: learning rate must be finite and > 0, got {lr}")
    state = {"X": X.unsqueeze(1), "y": y.unsqueeze(1), "W": W.clone(), "c": c.clone(), "b": b.clone()}
    state["yy"] = (y * y).mean(1, keepdim=True).clamp_min(1e-300)
    if loss_scale is not None:
        state["yy"] = state["yy"] * loss_scale.to(state["yy"]).reshape(-1, 1).clamp_min(1e-300)
    names = ("W", "c", "b")
    if optimizer == "adam":
        for k in names:
            state["m" + k], state["v" + k] = torch.zeros_like(state[k]), torch.zeros_like(state[k])
        state["t"] = torch.zeros(W.shape[:2], dtype=W.dtype, device=W.device)
    b1, b2 = betas
    # the inputs with their ones column, made once and kept in the state: the engine drops
    # the rows (teachers) whose cells have all stopped, and X1 must lose them with the rest
    R, C = W.shape[:2]
    n = X.shape[1]
    state["X1"] = _ones_column(X.unsqueeze(1).expand(R, C, *X.shape[1:])).reshape(R, C, n, -1)
    bs, batch = mini_batches(n, batch_size, batch_key, W.device)
    state["k"] = torch.zeros(R, dtype=torch.int64, device=W.device)  # steps taken (same for every row)

    def loss(st):
        f = student_outputs(st["X1"].flatten(0, 1), st["W"], st["c"], st["b"], activation)
        return ((f - st["y"]) ** 2).mean(2) / st["yy"]

    def step(st, frozen):
        k0 = int(st["k"][0])
        st["k"] += 1
        if bs < n:
            idx = batch(k0)
            X, y, X1 = st["X"][:, :, idx], st["y"][:, :, idx], st["X1"][:, :, idx].flatten(0, 1)
        else:
            X, y, X1 = st["X"], st["y"], st["X1"].flatten(0, 1)
        grads = student_gradients(X, y, st["W"], st["c"], st["b"], activation, X1)
        rate = lr * 0.5 * (1 + math.cos(math.pi * k0 / stop.max_steps)) if cosine else lr
        keep = (~frozen).to(st["W"].dtype)
        if optimizer == "adam":
            st["t"] += keep
            t = st["t"].clamp_min(1)
        for name, gk in zip(names, grads, strict=True):
            kk = keep.reshape(*keep.shape, *([1] * (gk.ndim - 2)))
            if optimizer == "gd":
                st[name] -= rate * kk * gk
                continue
            tt = t.reshape(kk.shape)
            st["m" + name] += kk * (1 - b1) * (gk - st["m" + name])
            st["v" + name] += kk * (1 - b2) * (gk * gk - st["v" + name])
            mhat, vhat = st["m" + name] / (1 - b1**tt), st["v" + name] / (1 - b2**tt)
            st[name] -= rate * kk * mhat / (vhat.sqrt() + eps)

    return core_engine.run_batched(state, step, loss, stop, desc, progress, checkpoint)


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
        gen = [generator(seed, i, stream, j) for j in range(cells)]
        Ws.append(torch.stack([torch.randn(d, width, generator=g, dtype=torch.float64) / math.sqrt(d) for g in gen]))
        cs.append(torch.stack([torch.randn(width, generator=g, dtype=torch.float64) / math.sqrt(d) for g in gen]))
        bs.append(torch.stack([torch.randn(width, generator=g, dtype=torch.float64) / math.sqrt(width) for g in gen]))
    s = torch.tensor(scales, dtype=torch.float64)
    return torch.stack(Ws) * s.view(1, -1, 1, 1), torch.stack(cs) * s.view(1, -1, 1), torch.stack(bs) * s.view(1, -1, 1)


def linear_residual(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per row of X (R, n, d), y (R, n): the relative mean squared error of the least-squares
    affine fit, mean (Xβ + β₀ − y)² / mean y², what a student must improve on with nonlinear
    directions (ID3 and NL2 stop their students at a share of it)."""
    out = []
    for Xi, yi in zip(X.double().numpy(), y.double().numpy(), strict=True):  # NumPy: no batched torch LU
        X1 = np.hstack([Xi, np.ones((len(Xi), 1))])
        r = X1 @ np.linalg.lstsq(X1, yi, rcond=None)[0] - yi
        out.append(np.mean(r * r) / max(np.mean(yi * yi), 1e-300))
    return torch.tensor(out, dtype=torch.float64)


def gaussian_inputs(batch: int, n: int, d: int, seed: int, stream: int) -> torch.Tensor:
    """n training inputs x ~ N(0, I/d) (‖x‖ ≈ 1) per instance, (B, n, d) float64 on the CPU."""
    return torch.stack(
        [torch.randn(n, d, generator=generator(seed, i, stream), dtype=torch.float64) for i in range(batch)]
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
    (seed, i, adam)) by Adam as a practitioner runs it (``baseline``, the config's section:
    ``restarts`` standard-scale initializations run as the cells of one batch, mini-batches of
    ``batch_size`` queries, ``steps`` with the step size decayed from ``lr`` to 0 on a cosine,
    ``tol_loss``); each instance keeps the restart with the least training loss on all its
    queries. Mini-batches make a step's cost independent of the budget: at ID3's paper shape
    the full-batch fit was ~28 h, and on a probe (d = m = 20, 8 400 queries) batches of 512
    reach the same error on the sphere as full-batch Adam in a sixteenth of the time (README).
    Returns the network and its relative training MSE."""
    from iloco.core import engine as core_engine

    restarts, lr, steps, tol, bs = (baseline[k] for k in ("restarts", "lr", "steps", "tol_loss", "batch_size"))
    B, d = oracle.batch, oracle.d
    if not isinstance(n_queries, int | np.integer) or n_queries < 1:
        raise IlocoError(f"id: the baseline needs at least one query, got {n_queries}")
    if not isinstance(restarts, int | np.integer) or restarts < 1:
        raise IlocoError(f"id: need restarts >= 1, got {restarts}")
    X = sphere_points(B, int(n_queries), d, radius, seed, ADAM, oracle.device, oracle.dtype)
    y = oracle(X)
    W, c, b = init_students(B, restarts, d, width, [1.0] * restarts, seed, ADAM)
    to = {"device": X.device, "dtype": X.dtype}
    stop = core_engine.StopRule(max_steps=steps, tol_loss=tol, tol_change=0.0, check_every=max(1, min(500, steps)))
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
        batch_size=bs,
        batch_key=(seed, int(n_queries), ADAM),
        cosine=True,
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
CHAIN_KEYS = (
    "teacher_A",
    "teacher_theta",
    "teacher_b",
    "W",
    "c",
    "b",
    "scales",
    "tol_loss",
    "linear_residual",
    "train_loss",
    "steps",
    "status",
)


def train_chain(spec: dict, seed: int, device: torch.device = CPU, progress: bool = True, checkpoint=None) -> dict:
    """The training stage of the chain: ``teachers`` seeded shallow teachers (width
    ``teacher_width``), ``n_train`` inputs x ~ N(0, I/d) each, and for every teacher one
    over-parameterized student (width ``student_width``) per init scale, all trained as one
    batch by full-batch GD (``train``: lr, max_steps, tol_loss, check_every) through the
    shared engine (checkpointed with ``checkpoint``). A student stops when its relative
    training error is ``tol_loss`` times what the best affine fit leaves on its teacher's data
    (:func:`linear_residual`), as NL2's: the scales are identified at equal training loss, not
    at a point of their incremental learning picked by the step cap. Returns numpy arrays
    (``CHAIN_KEYS``; ``train_loss`` is the relative training error)."""
    from iloco.core import engine as core_engine

    T, d, act = spec["teachers"], spec["d"], spec["activation"]
    teachers = shallow_networks(T, d, spec["teacher_width"], act, spec["nonortho"], seed, spec["theta_scale"])
    X = gaussian_inputs(T, spec["n_train"], d, seed, DATA)
    y = teachers.forward(X)
    lin = linear_residual(X, y)
    scales = [float(s) for s in spec["init_scales"]]
    W, c, b = init_students(T, len(scales), d, spec["student_width"], scales, seed, STUDENT)
    tr = spec["train"]
    stop = core_engine.StopRule(tr["max_steps"], tr["tol_loss"], 0.0, tr["check_every"])
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
        loss_scale=lin,
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
        "tol_loss": np.array(float(tr["tol_loss"])),
        "linear_residual": lin.numpy(),
        "train_loss": res.loss * lin.numpy()[:, None],
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

    One function on purpose: per student, identification and the Adam baseline run on the same
    queries and are tabulated side by side.
    """
    from tqdm import tqdm

    from iloco.core import engine as core_engine

    to = {"device": device, "dtype": torch.float64}
    A = torch.as_tensor(arrays["teacher_A"]).to(**to)
    act = spec["activation"]
    teachers = ShallowNets(
        A, torch.as_tensor(arrays["teacher_theta"]).to(**to), torch.as_tensor(arrays["teacher_b"]).to(**to), act
    )
    T, d, m_t = A.shape
    m_s = arrays["W"].shape[-1]
    ident_spec, base = spec["identify"], spec["baseline"]
    X = sphere_points(T, spec["n_test"], d, 1.0, seed, TEST, device)
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
            "tol_loss": float(arrays["tol_loss"]),
            "linear_residual": arrays["linear_residual"],
            "train_loss": arrays["train_loss"][:, j],
            "train_steps": arrays["steps"][:, j],
            "train_status": [core_engine.STATUS[s] for s in arrays["status"][:, j]],
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
    X = sphere_points(trials, spec["n_test"], d, 1.0, seed, TEST, device)
    parts = []
    for nh in tqdm(spec["n_hessians"], desc="ID3 budget", file=sys.stderr, disable=not progress):
        t0 = time.perf_counter()
        res = identify_shallow(
            oracle_of(nets, 0.0, seed),
            m,
            nh,
            spec["h"],
            spec["scheme"],
            spec["restarts_per_width"] * m,
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
