"""What every benchmark shares: the machine's own matmul rates (measured in the same run) and
the speed-up and provenance columns of a benchmark table. Each family's ``bench`` module
benchmarks its own trainer against a per-trial loop."""

from __future__ import annotations

import platform
import time

import pandas as pd
import torch

from iloco.core import engine, provenance


def matmul_gflops(device: torch.device, dtype: torch.dtype, size: int = 512, reps: int = 20) -> float:
    """The machine's own dense matmul rate, measured now, for scale."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * size**3 * reps / (time.perf_counter() - t0) / 1e9


def speedup(table: pd.DataFrame, rate: str) -> pd.Series:
    """Each mode's ``rate`` over that of the loop mode (the one whose name ends in "loop")."""
    return table[rate] / table.loc[table["mode"].str.endswith("loop"), rate].iloc[0]


def stamp(table: pd.DataFrame, dev: torch.device, threads: int) -> pd.DataFrame:
    """Where a benchmark ran: device, threads, CPU and package versions, on every row."""
    table["device"] = engine.device_label(dev)
    table["threads"] = threads
    table["cpu"] = platform.processor() or platform.machine()
    table["versions"] = provenance.versions()
    return table


def bmm_gflops(device: torch.device, dtype: torch.dtype, batch: int, d: int, reps: int = 50) -> float:
    """The machine's batched-matmul rate at the trainer's own shape (batch × d × d), measured now."""
    a = torch.randn(batch, d, d, device=device, dtype=dtype)
    b = torch.randn(batch, d, d, device=device, dtype=dtype)
    torch.bmm(a, b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.bmm(a, b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * d**3 * batch * reps / (time.perf_counter() - t0) / 1e9
