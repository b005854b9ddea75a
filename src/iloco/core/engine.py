"""The shared training engine: batched gradient descent over many trials at once.

Every family describes its trials as tensors whose leading dimension runs over a batch
(instances) and whose trailing cell dimensions run over the trials that share an instance
(e.g. initialization scales). The engine owns the loop: the stopping rule per cell,
freezing finished cells, dropping batch rows whose cells are all finished (so late steps
cost only what is still running), divergence detection, a progress bar, and checkpoints:
the whole loop state is saved atomically at an interval, and a re-run of the same job
resumes from it and ends bitwise where an uninterrupted run ends (same device and threads).
``run_segments`` runs to chosen steps and records there, checkpointed the same way.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from iloco.core.errors import IlocoError
from iloco.core.io import atomic_path, remove_partials

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
    """When a cell stops: its loss is at most ``tol_loss`` (converged), its loss fell, but by at
    most a fraction ``tol_change``, over the last ``check_every`` steps (stalled), or it ran
    ``max_steps`` steps. A loss that is not finite, or exceeds ``diverge_factor`` times the
    cell's initial loss, marks it diverged (a rising loss alone is not a stall)."""

    max_steps: int
    tol_loss: float
    tol_change: float
    check_every: int
    diverge_factor: float = 1e8


@dataclass
class RunResult:
    """Final tensors (on CPU) and, per cell, steps taken, final loss and status code.

    ``elapsed_s`` is the loop's wall time summed over every resumed segment;
    ``resumed_from`` the step the last segment started from (0 for a fresh run).
    """

    state: dict[str, torch.Tensor]
    steps: np.ndarray
    loss: np.ndarray
    status: np.ndarray
    elapsed_s: float = 0.0
    resumed_from: int = 0


CHECKPOINT_FORMAT = 1
#: What a ``run_batched`` snapshot holds; a ``run_segments`` one holds ``SEGMENT_FIELDS``.
LOOP_FIELDS = frozenset(
    {"format", "fingerprint", "t", "active", "state", "frozen", "prev", "limit", "steps", "loss", "status"}
)
SEGMENT_FIELDS = frozenset({"format", "fingerprint", "segment", "records", "elapsed_s", "loop"})


@dataclass
class Checkpoint:
    """Where and how often ``run_batched`` (or ``run_segments``) saves its state.

    ``fingerprint`` names the job (its inputs and every parameter that changes the result); a
    checkpoint file with another fingerprint belongs to an older job and is not resumed.
    ``every_s`` is the wall-clock interval between saves (0: at every check). Saves happen
    only at checks, so where they fall never changes the result. With ``keep_finished`` the
    finished run is saved too, so that a job of several runs (see ``part``) does not redo it.
    """

    path: Path
    fingerprint: str
    every_s: float = 300.0
    log: Callable[[str], None] = field(default=lambda msg: print(f"iloco: {msg}", file=sys.stderr))
    keep_finished: bool = False

    def __post_init__(self):
        self.path = Path(self.path)

    def part(self, tag: str) -> Checkpoint:
        """The checkpoint of one of several trainings of this job: file ``<stem>.<tag><suffix>``
        beside this one, fingerprint extended by ``tag``, finished run kept; ``remove`` deletes it."""
        path = self.path.with_name(f"{self.path.stem}.{tag}{self.path.suffix}")
        return Checkpoint(path, f"{self.fingerprint}/{tag}", self.every_s, self.log, keep_finished=True)

    def save(self, snapshot: dict) -> None:
        """Write the snapshot atomically (temporary file, fsync, rename)."""
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as fh:
                torch.save(snapshot, fh)
                fh.flush()
                os.fsync(fh.fileno())

    def load(self, need: frozenset = LOOP_FIELDS) -> dict | None:
        """The saved snapshot of this job, or None when there is none (or it is another job's).

        An unreadable or inconsistent file is an error that names it: it was written
        atomically, so it did not come from a kill; something else damaged it.
        """
        if not self.path.exists():
            return None
        try:
            snap = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged file
            raise IlocoError(
                f"{self.path}: corrupt checkpoint ({type(exc).__name__}); delete it to restart this job from step 0"
            ) from None
        return self._accept(snap, need)

    def _accept(self, snap, need: frozenset) -> dict | None:
        if not isinstance(snap, dict) or not need <= set(snap):
            raise IlocoError(f"{self.path}: corrupt checkpoint (missing fields); delete it to restart this job")
        if snap["format"] != CHECKPOINT_FORMAT or snap["fingerprint"] != self.fingerprint:
            self.log(f"{self.path}: checkpoint of another job (inputs or parameters changed); starting from step 0")
            return None
        return snap

    def remove(self) -> None:
        """Delete the checkpoint and its parts (and any save a kill cut short) once the job's
        output is written."""
        for path in [self.path, *self.path.parent.glob(f"{self.path.stem}.*{self.path.suffix}")]:
            path.unlink(missing_ok=True)
            remove_partials(path)


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
    checkpoint: Checkpoint | None = None,
) -> RunResult:
    """Run ``step`` on all cells until each one stops by ``stop``.

    ``state`` maps names to tensors with the batch as leading dimension (parameters, optimizer
    buffers and per-row constants alike); they are updated in place by ``step``. With
    ``checkpoint``, the loop resumes from a saved snapshot of the same job and saves one
    every ``checkpoint.every_s`` seconds (and once finished, with ``checkpoint.keep_finished``).

    One function on purpose: the loop's state (parameters, per-cell status, step counts, the
    stopping rule's memory) is exactly what the checkpoint saves, and keeping it in one frame
    keeps a resumed run bitwise equal to an uninterrupted one.
    """
    full = dict(state)
    rows = next(iter(full.values())).shape[0]
    device = full[next(iter(full))].device
    cur = dict(full)
    active = torch.arange(rows, device=device)
    with torch.no_grad():
        prev = loss(cur)
    limit = stop.diverge_factor * prev.abs()
    cell_shape = tuple(prev.shape[1:])
    steps = np.zeros((rows, *cell_shape), dtype=np.int64)
    final = np.full((rows, *cell_shape), np.nan)
    status = np.zeros((rows, *cell_shape), dtype=np.int8)
    frozen = torch.zeros_like(prev, dtype=torch.bool)
    t, elapsed = 0, 0.0
    snap = checkpoint.load() if checkpoint else None
    if snap is not None:
        t, elapsed = int(snap["t"]), float(snap.get("elapsed_s", 0.0))
        try:
            for k in full:
                full[k].copy_(snap["state"][k])
            steps[...], final[...], status[...] = (snap[k].numpy() for k in ("steps", "loss", "status"))
            active = snap["active"].to(device)
            cur = {k: v[active] for k, v in full.items()}
            frozen, prev, limit = (snap[k].to(device) for k in ("frozen", "prev", "limit"))
            if frozen.shape != (active.numel(), *cell_shape) or not prev.shape == limit.shape == frozen.shape:
                raise ValueError("cell shape")
        except (KeyError, RuntimeError, ValueError) as exc:
            raise IlocoError(
                f"{checkpoint.path}: corrupt checkpoint (does not fit this job: {exc}); delete it to restart"
            ) from None
        _set_rng(snap.get("rng"))
        checkpoint.log(f"resumed from checkpoint {checkpoint.path} at step {t}")
    resumed_from = t
    start = time.perf_counter()
    last_save = start

    def save() -> None:
        snapshot = {k: v.clone() for k, v in full.items()}
        for k in full:
            snapshot[k][active] = cur[k]
        checkpoint.save(
            {
                "format": CHECKPOINT_FORMAT,
                "fingerprint": checkpoint.fingerprint,
                "t": t,
                "elapsed_s": elapsed + time.perf_counter() - start,
                "active": active.cpu(),
                "state": {k: v.cpu() for k, v in snapshot.items()},
                "frozen": frozen.cpu(),
                "prev": prev.cpu(),
                "limit": limit.cpu(),
                "steps": torch.from_numpy(steps.copy()),
                "loss": torch.from_numpy(final.copy()),
                "status": torch.from_numpy(status.copy()),
                "rng": _get_rng(),
            }
        )

    bar = tqdm(total=stop.max_steps, initial=t, desc=desc, file=sys.stderr, mininterval=2.0, disable=not progress)
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
            fell = prev - now
            stalled = (fell >= 0) & (fell <= stop.tol_change * prev.abs())
            code[(code == RUNNING) & stalled] = STALLED
            if t >= stop.max_steps:
                code[code == RUNNING] = MAX_STEPS
            code[~torch.isfinite(now) | (now.abs() > limit)] = DIVERGED
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
                frozen, prev, limit = frozen[keep], prev[keep], limit[keep]
            bar.set_postfix(active=int((~frozen).sum()), refresh=False)
            if checkpoint and active.numel() and time.perf_counter() - last_save >= checkpoint.every_s:
                save()
                last_save = time.perf_counter()
        if checkpoint and checkpoint.keep_finished and t > resumed_from:
            save()
    bar.close()
    for k in full:
        if active.numel():
            full[k][active] = cur[k]
    elapsed += time.perf_counter() - start
    return RunResult({k: v.cpu() for k, v in full.items()}, steps, final, status, elapsed, resumed_from)


def fixed_steps(steps: int, check_every: int | None = None) -> StopRule:
    """A rule that runs exactly ``steps`` steps: no convergence or stall stop (divergence is
    still detected at the checks, every ``check_every`` steps, default once at the end)."""
    return StopRule(max_steps=steps, tol_loss=0.0, tol_change=-1.0, check_every=check_every or steps)


@dataclass
class Segments:
    """What ``record`` returned at each end, the loops' wall time summed over every resumed
    run, and the step the last run started from (0 for a fresh run)."""

    records: list
    elapsed_s: float = 0.0
    resumed_from: int = 0


class _SegmentCheckpoint(Checkpoint):
    """The loop checkpoint of one segment of ``run_segments``: saved into the run's file next to
    the progress before the segment, with its own fingerprint; its first save falls due when the
    run's last save is ``every_s`` old (``clock`` holds that time)."""

    def __init__(self, run: Checkpoint, index: int, progress: dict, loop: dict | None, clock: list[float]):
        due = max(0.0, run.every_s - (time.perf_counter() - clock[0]))
        super().__init__(run.path, f"{run.fingerprint}/segment {index}", due, lambda msg: None)
        self.run_every_s, self.progress, self.loop, self.clock = run.every_s, progress, loop, clock

    def save(self, snapshot: dict) -> None:
        super().save({**self.progress, "loop": snapshot})
        self.every_s, self.clock[0] = self.run_every_s, time.perf_counter()

    def load(self, need: frozenset = LOOP_FIELDS) -> dict | None:
        loop, self.loop = self.loop, None
        return None if loop is None else self._accept(loop, need)


def run_segments(
    state: dict[str, torch.Tensor],
    step: StepFn,
    loss: LossFn,
    ends: list[int],
    record: Callable[[dict[str, torch.Tensor], int], object],
    desc: str = "train",
    check_every: int | None = None,
    progress: bool = False,
    checkpoint: Checkpoint | None = None,
) -> Segments:
    """Run exactly up to each step count in ``ends`` (non-decreasing) and call ``record(state, t)``
    there: trajectories recorded at chosen steps, the state updated in place, what ``record``
    returns collected. Segments check every min(segment, ``check_every``) steps (default: once
    per segment).

    With ``checkpoint``, one file holds the run: the progress (state, records so far, torch's
    RNG state) saved between segments, or a segment's loop state saved at its checks, every
    ``checkpoint.every_s`` seconds, and the finished run with ``checkpoint.keep_finished``. A
    re-run resumes from it bitwise. ``record`` then returns tensors, numbers or lists and dicts
    of them, copies that later steps do not change (they are saved with the checkpoint).
    """
    ends = [int(t) for t in ends]
    for a, b in zip([0, *ends], ends, strict=False):
        if b < a:
            raise IlocoError(f"engine: recording steps must not decrease, got {b} after {a}")
    first, records, elapsed, loop, inner = 0, [], 0.0, None, 0
    snap = checkpoint.load(SEGMENT_FIELDS) if checkpoint else None
    if snap is not None:
        try:
            first, records, loop = int(snap["segment"]), list(snap["records"]), snap["loop"]
            elapsed = float(snap["elapsed_s"])
            if len(records) != first or first > len(ends):
                raise ValueError("segment count")
            if loop is None:
                for k in state:
                    state[k].copy_(snap["state"][k])
            elif loop["fingerprint"] != f"{checkpoint.fingerprint}/segment {first}" or first == len(ends):
                raise ValueError("segment fingerprint")
            else:
                inner = int(loop["t"])
        except (IndexError, KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise IlocoError(
                f"{checkpoint.path}: corrupt checkpoint (does not fit this job: {exc}); delete it to restart"
            ) from None
        if loop is None:
            _set_rng(snap.get("rng"))
    done = ends[first - 1] if first else 0
    resumed_from = done + inner
    if snap is not None:
        checkpoint.log(f"resumed from checkpoint {checkpoint.path} at step {resumed_from}")
    clock = [time.perf_counter()]
    for i in range(first, len(ends)):
        t = ends[i]
        if t > done:
            seg = t - done
            part = None
            if checkpoint:
                head = {"format": CHECKPOINT_FORMAT, "fingerprint": checkpoint.fingerprint, "segment": i}
                head.update(records=records, elapsed_s=elapsed)
                part = _SegmentCheckpoint(checkpoint, i, head, loop, clock)
            stop = fixed_steps(seg, min(seg, check_every or seg))
            elapsed += run_batched(state, step, loss, stop, desc, progress, part).elapsed_s
            loop, done = None, t
        records.append(record(state, t))
        last = i == len(ends) - 1
        if checkpoint and (time.perf_counter() - clock[0] >= checkpoint.every_s or last and checkpoint.keep_finished):
            checkpoint.save(
                {
                    "format": CHECKPOINT_FORMAT,
                    "fingerprint": checkpoint.fingerprint,
                    "segment": i + 1,
                    "records": records,
                    "elapsed_s": elapsed,
                    "loop": None,
                    "state": {k: v.cpu() for k, v in state.items()},
                    "rng": _get_rng(),
                }
            )
            clock[0] = time.perf_counter()
    return Segments(records, elapsed, resumed_from)


def _get_rng() -> dict[str, torch.Tensor]:
    """Torch's RNG states (CPU and every CUDA device), for steps that draw random numbers."""
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng.update({f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return rng


def _set_rng(rng: dict[str, torch.Tensor] | None) -> None:
    if not rng:
        return
    torch.set_rng_state(rng["cpu"])
    cuda = [rng[k] for k in sorted(rng) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
