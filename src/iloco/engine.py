"""The shared training engine: batched gradient descent over many trials at once.

Every family describes its trials as tensors whose leading dimension runs over a batch
(instances) and whose trailing cell dimensions run over the trials that share an instance
(e.g. initialization scales). The engine owns the loop: the stopping rule per cell,
freezing finished cells, dropping batch rows whose cells are all finished (so late steps
cost only what is still running), divergence detection and a progress bar.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from iloco.errors import IlocoError

#: Cell outcomes, in the order of their integer codes.
STATUS = ("running", "converged", "stalled", "max_steps", "diverged")
RUNNING, CONVERGED, STALLED, MAX_STEPS, DIVERGED = range(len(STATUS))


def resolve_device(name: str) -> torch.device:
    """Map the config's ``device`` (auto | cpu | cuda) to a torch device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise IlocoError("device: 'cuda' requested but torch sees no CUDA device (use auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise IlocoError(f"device: {name!r} is not one of auto, cpu, cuda")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    """A human-readable device name for provenance columns."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return "cpu"


def resolve_dtype(name: str) -> torch.dtype:
    """Map the config's ``dtype`` to a torch dtype."""
    try:
        return {"float64": torch.float64, "float32": torch.float32}[name]
    except KeyError:
        raise IlocoError(f"dtype: {name!r} is not one of float64, float32") from None


@dataclass(frozen=True)
class StopRule:
    """When a cell stops: its loss is at most ``tol_loss`` (converged), its loss fell by at
    most a fraction ``tol_change`` over the last ``check_every`` steps (stalled), or it ran
    ``max_steps`` steps. Non-finite losses mark the cell diverged."""

    max_steps: int
    tol_loss: float
    tol_change: float
    check_every: int


@dataclass
class RunResult:
    """Final tensors (on CPU) and, per cell, steps taken, final loss and status code."""

    state: dict[str, torch.Tensor]
    steps: np.ndarray
    loss: np.ndarray
    status: np.ndarray


#: One gradient step, in place, on the active rows; cells where ``frozen`` is True must not move.
StepFn = Callable[[dict[str, torch.Tensor], torch.Tensor], None]
#: The loss of every active cell, shape (rows, *cells).
LossFn = Callable[[dict[str, torch.Tensor]], torch.Tensor]


def run_batched(
    state: dict[str, torch.Tensor],
    step: StepFn,
    loss: LossFn,
    stop: StopRule,
    desc: str = "train",
    progress: bool = True,
) -> RunResult:
    """Run ``step`` on all cells until each one stops by ``stop``.

    ``state`` maps names to tensors with the batch as leading dimension (parameters and
    per-row constants alike); they are updated in place by ``step``.
    """
    full = dict(state)
    rows = next(iter(full.values())).shape[0]
    cur = dict(full)
    active = torch.arange(rows, device=cur[next(iter(cur))].device)
    with torch.no_grad():
        prev = loss(cur)
    cell_shape = tuple(prev.shape[1:])
    steps = np.zeros((rows, *cell_shape), dtype=np.int64)
    final = np.full((rows, *cell_shape), np.nan)
    status = np.zeros((rows, *cell_shape), dtype=np.int8)
    frozen = torch.zeros_like(prev, dtype=torch.bool)
    t = 0
    bar = tqdm(total=stop.max_steps, desc=desc, file=sys.stderr, mininterval=2.0, disable=not progress)
    with torch.no_grad():
        while active.numel() and t < stop.max_steps:
            n = min(stop.check_every, stop.max_steps - t)
            for _ in range(n):
                step(cur, frozen)
            t += n
            bar.update(n)
            now = loss(cur)
            code = torch.zeros_like(now, dtype=torch.int8)
            code[now.abs() <= stop.tol_loss] = CONVERGED
            stalled = (prev - now) <= stop.tol_change * prev.abs()
            code[(code == RUNNING) & stalled] = STALLED
            if t >= stop.max_steps:
                code[code == RUNNING] = MAX_STEPS
            code[~torch.isfinite(now)] = DIVERGED
            newly = (code != RUNNING) & ~frozen
            if newly.any():
                idx = active.cpu().numpy()
                nw = newly.cpu().numpy()
                sub_steps, sub_final, sub_status = steps[idx], final[idx], status[idx]
                sub_steps[nw] = t
                sub_final[nw] = now.cpu().numpy()[nw]
                sub_status[nw] = code.cpu().numpy()[nw]
                steps[idx], final[idx], status[idx] = sub_steps, sub_final, sub_status
                frozen = frozen | newly
            prev = torch.where(frozen, prev, now)
            done = frozen.reshape(frozen.shape[0], -1).all(dim=1)
            if done.any():
                for k in full:
                    full[k][active[done]] = cur[k][done]
                keep = ~done
                active = active[keep]
                cur = {k: v[keep] for k, v in cur.items()}
                frozen, prev = frozen[keep], prev[keep]
            bar.set_postfix(active=int((~frozen).sum()), refresh=False)
    bar.close()
    for k in full:
        if active.numel():
            full[k][active] = cur[k]
    return RunResult({k: v.cpu() for k, v in full.items()}, steps, final, status)
