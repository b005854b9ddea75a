"""What every benchmark shares: the machine's own matmul rates (measured in the same run) and
the speed-up and provenance columns of a benchmark table. Each family's ``bench`` module
benchmarks its own trainer against a per-trial loop."""

from __future__ import annotations

import platform
import time

import numpy as np
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


def copy_gb_s(device: torch.device, dtype: torch.dtype = torch.float64, mbytes: int = 256, reps: int = 10) -> float:
    """The machine's own memory bandwidth, measured now: bytes read and written per second by a
    copy of a ``mbytes`` tensor (far larger than the caches), in GB/s."""
    n = mbytes * 2**20 // torch.tensor([], dtype=dtype).element_size()
    a = torch.ones(n, device=device, dtype=dtype)
    b = torch.empty_like(a)
    b.copy_(a)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        b.copy_(a)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * a.element_size() * n * reps / (time.perf_counter() - t0) / 1e9


def roofline(table: pd.DataFrame, flops: str, bytes_moved: str, dev: torch.device, dtype: torch.dtype) -> pd.DataFrame:
    """The machine's matmul rate and copy bandwidth measured in this run, and each row's share of
    its roofline: achieved flop rate over min(matmul rate, intensity × bandwidth), the intensity
    being the row's ``flops`` per byte of ``bytes_moved`` (both per second)."""
    peak, bandwidth = matmul_gflops(dev, dtype), copy_gb_s(dev, dtype)
    table["machine_matmul_gflops"] = peak
    table["machine_copy_gb_s"] = bandwidth
    intensity = table[flops] / table[bytes_moved]
    table["roofline_gflops"] = np.minimum(peak, intensity * bandwidth)
    table["roofline_frac"] = table[flops] / table["roofline_gflops"]
    return table


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
