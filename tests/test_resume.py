"""Preemption safety: checkpoints, SIGKILL mid-training and resume, and loud failures."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from iloco.core import engine, io
from iloco.core.cli import main
from iloco.core.errors import IlocoError
from iloco.sp import model, problems, tables

from .conftest import workflow_env

#: Long enough that the kill lands mid-way (about 4 s of training on a 2-core CPU).
SETTINGS = {"alphas": [1e-3, 0.1, 10], "lr": 0.5, "max_steps": 60000, "tol_loss": 1e-10, "tol_change": 0.0}
TRAIN = ["--depth", "2", "--settings", json.dumps({**SETTINGS, "check_every": 100, "dtype": "float64"}), "--quiet"]


@pytest.fixture(scope="module")
def instances(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inst") / "inst.npz"
    io.save_npz(path, **problems.make_instances(30, 15, 2, 3, seed=7, nonzeros="sign"))
    return path


def train_cmd(instances: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "iloco",
        "sp1-train",
        "--instances",
        str(instances),
        *TRAIN,
        "--out",
        str(out),
        *extra,
    ]


def shard(path: Path) -> dict[str, np.ndarray]:
    """A training shard without its timing."""
    data = io.load_npz(path, model.TRAIN_KEYS)
    data.pop("wall_time_s")
    return data


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)  # bitwise (NaN == NaN)


@pytest.fixture(scope="module")
def uninterrupted(instances, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ref") / "ref.npz"
    subprocess.run(train_cmd(instances, out), check=True, env=workflow_env())
    return shard(out)


def test_sigkill_mid_training_then_resume_is_bitwise_identical(instances, uninterrupted, tmp_path):
    out, ckpt, log = tmp_path / "depth2.npz", tmp_path / "ckpt" / "depth2.pt", tmp_path / "log"
    cmd = train_cmd(instances, out, "--checkpoint", str(ckpt), "--checkpoint-every-s", "0")
    proc = subprocess.Popen(cmd, env=workflow_env(), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)  # let it save a few more checkpoints, then kill it hard
    assert proc.poll() is None, "training finished before it could be killed; raise --max-steps"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not out.exists()
    with open(log, "w") as fh:
        subprocess.run(cmd, check=True, env=workflow_env(), stderr=fh)
    resumed = [line for line in log.read_text().splitlines() if "resumed from checkpoint" in line]
    assert len(resumed) == 1, log.read_text()[-2000:]
    step = int(resumed[0].rsplit(" ", 1)[1])
    assert 0 < step < 60000
    assert_same(shard(out), uninterrupted)
    assert not ckpt.exists(), "the checkpoint of a finished job must be removed"
    assert not list(ckpt.parent.iterdir()), "a save cut short by the kill was left behind"


def killed_after_first_save(args: list[str], saves: int = 1) -> None:
    """Run ``iloco`` in-process and interrupt it right after its first (or ``saves``-th) checkpoint."""
    real_save, count = engine.Checkpoint.save, {"n": 0}

    def save_then_die(self, snap):
        real_save(self, snap)
        count["n"] += 1
        if count["n"] == saves:
            raise KeyboardInterrupt

    engine.Checkpoint.save = save_then_die
    try:
        with pytest.raises(KeyboardInterrupt):
            main(args)
    finally:
        engine.Checkpoint.save = real_save


def test_checkpoint_of_another_job_is_not_resumed(instances, uninterrupted, tmp_path, capsys):
    ckpt, out = tmp_path / "depth2.pt", tmp_path / "depth2.npz"
    args = ["sp1-train", "--instances", str(instances), "--checkpoint", str(ckpt), "--checkpoint-every-s", "0"]
    shorter = [a.replace("60000", "30000") for a in TRAIN]
    killed_after_first_save([*args, *shorter, "--out", str(out)])
    assert ckpt.exists() and not out.exists()
    assert main([*args, *TRAIN, "--out", str(out)]) == 0
    assert "checkpoint of another job" in capsys.readouterr().err
    assert_same(shard(out), uninterrupted)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong-shape"])
def test_bad_checkpoint_stops_the_job_with_one_line_naming_it(instances, tmp_path, capsys, damage):
    ckpt, out = tmp_path / "depth2.pt", tmp_path / "depth2.npz"
    args = ["sp1-train", "--instances", str(instances), *TRAIN, "--checkpoint", str(ckpt), "--checkpoint-every-s", "0"]
    killed_after_first_save([*args, "--out", str(out)])
    good = ckpt.read_bytes()
    if damage == "garbage":
        ckpt.write_bytes(b"\x00not a checkpoint")
    elif damage == "truncated":
        ckpt.write_bytes(good[: len(good) // 2])
    else:  # this job's fingerprint, but tensors that do not fit its state
        snap = torch.load(ckpt, weights_only=True)
        snap["state"]["u"] = snap["state"]["u"][:, :5]
        torch.save(snap, ckpt)
    capsys.readouterr()
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(ckpt) in err and "corrupt checkpoint" in err, err
    assert not out.exists()


def test_engine_resume_restores_rng_for_random_steps(tmp_path):
    """A step that draws random numbers resumes with the same stream (RNG state is saved)."""
    stop = engine.StopRule(max_steps=40, tol_loss=0.0, tol_change=0.0, check_every=10)

    def noisy(st, frozen):
        st["w"].add_(torch.randn_like(st["w"]) * 0.01)
        st["n"].add_(1)

    def loss(st):  # decreasing, never below tol_loss: every cell runs max_steps
        return 1.0 / (1.0 + st["n"])

    def fresh():
        return {"w": torch.zeros(2, 3, 2), "n": torch.zeros(2, 2)}

    torch.manual_seed(0)
    ref = engine.run_batched(fresh(), noisy, loss, stop, progress=False).state["w"]

    ck = engine.Checkpoint(tmp_path / "c.pt", "job", every_s=0)
    torch.manual_seed(0)
    calls = {"n": 0}

    def dying(st, frozen):
        calls["n"] += 1
        if calls["n"] > 25:  # dies after the checkpoint at step 20
            raise KeyboardInterrupt
        noisy(st, frozen)

    with pytest.raises(KeyboardInterrupt):
        engine.run_batched(fresh(), dying, loss, stop, progress=False, checkpoint=ck)
    torch.manual_seed(123)  # a fresh process would not share the old stream
    res = engine.run_batched(fresh(), noisy, loss, stop, progress=False, checkpoint=ck)
    assert res.resumed_from == 20
    assert torch.equal(res.state["w"], ref)


def test_divergence_is_recorded_per_cell_not_fatal():
    """Cells whose step exceeds the stability limit diverge; the rest of the shard is unharmed."""
    curv = torch.tensor([[0.5, 1.0, 3.0], [1.5, 2.5, 0.1]])  # GD on c x^2/2 with step 1: stable iff c < 2

    def step(st, frozen):
        st["x"].sub_(torch.where(frozen, 0.0, st["c"] * st["x"]))

    stop = engine.StopRule(max_steps=5000, tol_loss=1e-20, tol_change=0.0, check_every=10)
    res = engine.run_batched(
        {"x": torch.ones(2, 3, dtype=torch.float64), "c": curv.double()},
        step,
        lambda st: 0.5 * st["c"] * st["x"] ** 2,
        stop,
        progress=False,
    )
    names = np.array(engine.STATUS)[res.status]
    assert names.tolist() == [["converged", "converged", "diverged"], ["converged", "diverged", "converged"]]
    assert not res.loss[0, 2] <= 1e8 * 0.5 * 3.0  # beyond the divergence limit, or not finite
    assert np.isfinite(res.loss[curv.numpy() < 2]).all()


def test_diverged_cells_reach_the_table_as_diverged():
    inst = problems.make_instances(20, 10, 2, 2, seed=2)
    base = problems.solve_baselines(inst)
    stop = engine.StopRule(max_steps=200, tol_loss=1e-30, tol_change=0.0, check_every=50)
    arrays = model.train_arrays(inst, 2, [1.0], stop, 1.9e3, torch.device("cpu"), torch.float64, progress=False)
    table = tables.tabulate(inst, base, {2: arrays})
    assert (table["status"] == "diverged").all() and len(table) == 2
    assert table[["dist_xstar", "dist_bp", "dist_l2"]].isna().all().all()


def test_table_columns_stable_across_resume(tmp_path):
    """The resumed shard gives the same table rows as the uninterrupted one (timing aside)."""
    inst = problems.make_instances(20, 10, 2, 2, seed=3)
    base = problems.solve_baselines(inst)
    stop = engine.StopRule(max_steps=3000, tol_loss=1e-12, tol_change=0.0, check_every=100)
    cpu = torch.device("cpu")
    ref = model.train_arrays(inst, 2, [0.01, 1.0], stop, 0.5, cpu, torch.float64, progress=False)
    ck = engine.Checkpoint(tmp_path / "c.pt", "j", every_s=0)
    real_save, count = engine.Checkpoint.save, {"n": 0}

    def save_then_die(self, snap):
        real_save(self, snap)
        count["n"] += 1
        if count["n"] == 7:
            raise KeyboardInterrupt

    engine.Checkpoint.save = save_then_die
    try:
        with pytest.raises(KeyboardInterrupt):
            model.train_arrays(inst, 2, [0.01, 1.0], stop, 0.5, cpu, torch.float64, False, ck)
    finally:
        engine.Checkpoint.save = real_save
    res = model.train_arrays(inst, 2, [0.01, 1.0], stop, 0.5, cpu, torch.float64, False, ck)
    drop = ["wall_time_s"]
    a = tables.tabulate(inst, base, {2: ref}).drop(columns=drop)
    b = tables.tabulate(inst, base, {2: res}).drop(columns=drop)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


# ----------------------------------------------------------------------------- recording segments (NL)
ENDS = [1, 3, 10, 25, 60, 100]


def _noisy_segments(checkpoint=None, die_after: int | None = None, state=None) -> engine.Segments:
    """run_segments on a step that draws random numbers, recording w at ``ENDS``, checks every
    5 steps; ``die_after`` steps it raises KeyboardInterrupt, as a kill would stop it."""
    calls = {"n": 0}

    def step(st, frozen):
        calls["n"] += 1
        if die_after is not None and calls["n"] > die_after:
            raise KeyboardInterrupt
        st["w"].add_(torch.randn_like(st["w"]) * 0.1 - 0.01 * st["w"])
        st["n"].add_(1)

    state = state if state is not None else {"w": torch.zeros(2, 3, 4, dtype=torch.float64), "n": torch.zeros(2, 3)}
    return engine.run_segments(
        state,
        step,
        lambda st: 1 / (1 + st["n"]),
        ENDS,
        lambda st, t: {"w": st["w"].clone(), "t": t},
        "seg",
        5,
        False,
        checkpoint,
    )


def test_segments_resume_bitwise_wherever_they_are_killed(tmp_path):
    """Killed between segments or inside one (its loop state), run_segments resumes to the same
    records, final state and RNG stream as an uninterrupted run."""
    torch.manual_seed(0)
    ref_state = {"w": torch.zeros(2, 3, 4, dtype=torch.float64), "n": torch.zeros(2, 3)}
    ref = _noisy_segments(state=ref_state)
    ref_rng = torch.get_rng_state()
    resumed_at = set()
    for kill in (3, 9, 12, 27, 61, 99):  # boundaries at 3 and 10 (+2 steps), inside segments otherwise
        ck = engine.Checkpoint(tmp_path / f"kill{kill}.pt", "job", every_s=0)
        torch.manual_seed(0)
        with pytest.raises(KeyboardInterrupt):
            _noisy_segments(ck, die_after=kill)
        torch.manual_seed(123)  # a fresh process would not share the old stream
        state = {"w": torch.zeros(2, 3, 4, dtype=torch.float64), "n": torch.zeros(2, 3)}
        res = _noisy_segments(ck, state=state)
        resumed_at.add(res.resumed_from)
        assert 0 < res.resumed_from <= kill and res.elapsed_s > 0
        assert [r["t"] for r in res.records] == ENDS
        for a, b in zip(res.records, ref.records, strict=True):
            assert torch.equal(a["w"], b["w"]), (kill, a["t"])
        assert torch.equal(state["w"], ref_state["w"]) and torch.equal(torch.get_rng_state(), ref_rng)
    assert {3, 10} <= resumed_at and resumed_at - {3, 10}, resumed_at  # both kinds of resume ran


def test_finished_parts_are_kept_not_redone_and_removed_with_the_job(tmp_path, capsys):
    """Parts of a job of several trainings save their finished run (so a re-run skips it), and
    the job's checkpoint removes them all once its output is written."""
    job = engine.Checkpoint(tmp_path / "run.pt", "job", every_s=1e9)  # no save but the final ones
    torch.manual_seed(0)
    ref = _noisy_segments(job.part("a"))

    def shrink(st, frozen):
        st["x"].mul_(0.9)

    def fail(st, frozen):
        raise AssertionError("a finished run was recomputed")

    def size(st):
        return st["x"]

    stop = engine.fixed_steps(50, 10)
    batched = engine.run_batched({"x": torch.ones(3, 2)}, shrink, size, stop, progress=False, checkpoint=job.part("b"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.a.pt", "run.b.pt"]
    again = _noisy_segments(job.part("a"), die_after=0)  # any step would raise
    assert all(torch.equal(a["w"], b["w"]) for a, b in zip(again.records, ref.records, strict=True))
    res = engine.run_batched({"x": torch.ones(3, 2)}, fail, size, stop, progress=False, checkpoint=job.part("b"))
    assert torch.equal(res.state["x"], batched.state["x"]) and (res.steps == 50).all()
    capsys.readouterr()
    _noisy_segments(engine.Checkpoint(tmp_path / "run.a.pt", "another job"))
    assert "checkpoint of another job" in capsys.readouterr().err
    job.remove()
    assert not list(tmp_path.iterdir())


def test_corrupt_segments_checkpoint_is_one_line_naming_it(tmp_path):
    ck = engine.Checkpoint(tmp_path / "c.pt", "job", every_s=0)
    with pytest.raises(KeyboardInterrupt):
        _noisy_segments(ck, die_after=12)
    snap = torch.load(ck.path, weights_only=True)
    snap["records"] = snap["records"][:-1]
    torch.save(snap, ck.path)
    with pytest.raises(IlocoError, match=f"^{re.escape(str(ck.path))}: corrupt checkpoint .*segment count"):
        _noisy_segments(ck)
    ck.path.write_bytes(b"\x00garbage")
    with pytest.raises(IlocoError, match=f"^{re.escape(str(ck.path))}: corrupt checkpoint"):
        _noisy_segments(ck)


#: NL1 at the test config's size, with linear runs long enough that a kill lands inside one (~1-3 s each).
NL1_SETTINGS = {
    "losses": ["logistic", "exp"],
    "max_steps": 20000,
    "per_decade": 4,
    "lr_scale": 1.0,
    "soudry_random": 8,
    "random": {"instances": 2, "n": 30, "d": 5, "margin": 0.2},
    "homogeneous": {"archs": ["linear2"], "instances": 1, "width": 4, "init_scale": 0.3, "lr": 0.01, "max_steps": 300},
}


def test_nl1_sigkill_mid_run_then_resume_is_bitwise_identical(tmp_path, capsys):
    """nl1-run killed inside its second training resumes: the finished first one from its kept
    checkpoint, the second from its last save; the table (which has no timing columns) is
    bitwise the uninterrupted one and no checkpoint remains."""
    args = ["nl1-run", "--settings", json.dumps(NL1_SETTINGS), "--seed", "3", "--config-hash", "test", "--quiet"]
    ref, out, ckpt = tmp_path / "ref.csv", tmp_path / "out.csv", tmp_path / "ckpt" / "run.pt"
    assert main([*args, "--out", str(ref)]) == 0
    ck_args = ["--checkpoint", str(ckpt), "--checkpoint-every-s", "0", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "iloco", *args, *ck_args], env=workflow_env(), stderr=subprocess.DEVNULL
    )
    second = ckpt.with_name("run.linear-random.pt")
    deadline = time.monotonic() + 60
    while not second.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.4)  # into the second training, then kill it hard
    assert proc.poll() is None, "nl1-run finished before it could be killed; raise max_steps"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() and ckpt.with_name("run.linear-soudry.pt").exists()
    capsys.readouterr()
    assert main([*args, *ck_args]) == 0
    resumed = dict(re.findall(r"resumed from checkpoint \S+/run\.(\S+)\.pt at step (\d+)", capsys.readouterr().err))
    assert resumed.keys() == {"linear-soudry", "linear-random"}, resumed
    assert int(resumed["linear-soudry"]) == 20000 and 0 < int(resumed["linear-random"]) < 20000
    assert out.read_bytes() == ref.read_bytes()
    assert not list(ckpt.parent.iterdir()), "checkpoints (or partial saves) of a finished job remain"


def test_nl2_teacher_interrupted_in_its_second_scale_resumes_bitwise(tmp_path, capsys):
    """A finished init scale is kept and not retrained; the next one resumes from its save."""
    settings = {"teachers": 2, "d": 5, "teacher_width": 2, "width": 10, "n_train": 50, "n_test": 200}
    settings.update(init_scales=[1e-2, 1.0], lr=0.2, max_steps=300, tol_loss=1e-6)  # checks every 100 steps
    settings["dtype"] = "float32"
    args = ["nl2-teacher", "--settings", json.dumps(settings), "--seed", "5", "--config-hash", "test", "--quiet"]
    ref, out, ckpt = tmp_path / "ref.csv", tmp_path / "out.csv", tmp_path / "teacher.pt"
    assert main([*args, "--out", str(ref)]) == 0
    ck_args = ["--checkpoint", str(ckpt), "--checkpoint-every-s", "0", "--out", str(out)]
    killed_after_first_save([*args, *ck_args], saves=4)  # scale 0: steps 100, 200, finished at 300; scale 1: 100
    capsys.readouterr()
    assert main([*args, *ck_args]) == 0
    resumed = dict(re.findall(r"resumed from checkpoint \S+/teacher\.(\S+)\.pt at step (\d+)", capsys.readouterr().err))
    assert resumed == {"scale0": "300", "scale1": "100"}, resumed
    assert out.read_bytes() == ref.read_bytes()
    assert not list(tmp_path.glob("teacher*.pt"))
