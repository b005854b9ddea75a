"""Whole-workflow kill: SIGKILL Snakemake and its jobs mid-run, then run the README command again."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from .conftest import BIN, copy_repo, snakemake, workflow_env

pytestmark = pytest.mark.workflow

#: Columns that legitimately differ between two runs: timing and provenance.
VOLATILE = ["wall_time_s", "commit", "config_hash", "versions", "device"]


def kill_config(repo: Path) -> str:
    """The test config with longer training (so the kill lands mid-way) and a checkpoint at every check."""
    cfg = yaml.safe_load((repo / "config" / "test.yaml").read_text())
    cfg["checkpoint_every_s"] = 0
    cfg["sp1"]["train"]["max_steps"] = 100000
    (repo / "config" / "kill.yaml").write_text(yaml.safe_dump(cfg))
    return "config/kill.yaml"


def finished(repo: Path, path: Path) -> bool:
    """Snakemake has recorded the job of ``path`` as finished (output there, no incomplete marker)."""
    marker = base64.b64encode(str(path.relative_to(repo)).encode()).decode()
    return path.exists() and not (repo / ".snakemake" / "incomplete" / marker).exists()


def saved_checkpoints(ckpts: Path) -> list[Path]:
    """Checkpoints whose save completed: the temporary file of a save in progress (``.<stem>.*.pt``,
    renamed only once written) also matches ``*.pt`` but is removed, not resumed, after a kill."""
    return [p for p in ckpts.glob("*.pt") if not p.name.startswith(".")] if ckpts.is_dir() else []


def repro_paper(repo: Path, cfg: str, **kw):
    env = dict(workflow_env(), ILOCO_VENV=str(BIN.parent), ILOCO_SKIP_SETUP="1")  # never rebuild our venv
    return subprocess.Popen(
        ["./repro", "paper", "--configfile", cfg], cwd=repo, env=env, text=True, start_new_session=True, **kw
    )


def test_sigkill_whole_workflow_then_rerun_finishes_without_redoing(tmp_path):
    ref = copy_repo(tmp_path / "ref")
    proc = snakemake(ref, "results/sp1/sp1.csv", "--configfile", kill_config(ref))
    assert proc.returncode == 0, proc.stderr[-3000:]

    repo = copy_repo(tmp_path / "repo")
    cfg = kill_config(repo)
    ckpts = repo / "results" / "checkpoints" / "sp1"
    rules = {
        "sp1_data": repo / "results" / "sp1" / "instances.npz",
        "sp1_baselines": repo / "results" / "sp1" / "baselines.npz",
    }
    run = repro_paper(repo, cfg, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None:
        if finished(repo, rules["sp1_data"]) and saved_checkpoints(ckpts):
            break
        time.sleep(0.05)
    assert run.poll() is None, "the workflow ended before it could be killed"
    os.killpg(run.pid, signal.SIGKILL)  # Snakemake and every job it started, like a node dying
    run.wait()

    # mid-run: training interrupted with a checkpoint on disk, no shard written, nothing half-written
    assert saved_checkpoints(ckpts)
    done = {rule: path for rule, path in rules.items() if finished(repo, path)}  # sp1_data at least
    shards = list((repo / "results" / "sp1" / "train").glob("depth*.npz"))
    assert len(shards) < 2
    for path in [*done.values(), *shards]:
        with np.load(path) as data:  # complete files only: atomic writes
            assert data.files
    assert not (repo / "results" / "sp1" / "sp1.csv").exists()
    stamps = {p: p.stat().st_mtime_ns for p in done.values()}

    rerun = repro_paper(repo, cfg, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out[-3000:]
    assert "removing a stale Snakemake lock" in out
    for rule in done:
        assert f"rule {rule}:" not in out, f"finished job {rule} was redone"
    assert {p: p.stat().st_mtime_ns for p in done.values()} == stamps
    logs = "".join(p.read_text() for p in (repo / "results" / "logs" / "sp1").glob("train_depth*.log"))
    assert "resumed from checkpoint" in logs
    assert not ckpts.exists() or not list(ckpts.iterdir()), "checkpoints of finished jobs remain"
    assert not list((repo / "results").rglob(".*.npz")), "temporary files remain"
    assert (repo / "paper" / "main.pdf").stat().st_size > 10_000

    a = pd.read_csv(ref / "results" / "sp1" / "sp1.csv").drop(columns=VOLATILE)
    b = pd.read_csv(repo / "results" / "sp1" / "sp1.csv").drop(columns=VOLATILE)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for name in ("instances.npz", "baselines.npz"):
        assert (ref / "results" / "sp1" / name).read_bytes() == (repo / "results" / "sp1" / name).read_bytes()
