"""Atomic outputs, checked inputs, and the command line's one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from iloco.core import engine, io
from iloco.core.cli import main
from iloco.core.errors import IlocoError
from iloco.sp import model, problems


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_and_missing_inputs_name_the_file(tmp_path):
    good = tmp_path / "inst.npz"
    io.save_npz(good, **problems.make_instances(10, 5, 1, 1, seed=0))
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(good.read_bytes()[:200])
    with pytest.raises(IlocoError, match="trunc.npz: corrupt input"):
        io.load_npz(trunc, problems.INSTANCE_KEYS)
    with pytest.raises(IlocoError, match="inst.npz: corrupt input, missing arrays x_bp"):
        io.load_npz(good, problems.BASELINE_KEYS)
    with pytest.raises(IlocoError, match="nope.npz: file not found"):
        io.load_npz(tmp_path / "nope.npz", problems.INSTANCE_KEYS)


#: The settings of an SP1 data and training job (what the rules pass as JSON).
DATA = {"n": 20, "m": 10, "k": 2, "instances": 2, "nonzeros": "gaussian"}
TRAIN = {"alphas": [0.1], "lr": 0.5, "max_steps": 100000, "tol_loss": 1e-10, "tol_change": 0.0, "check_every": 100}
TRAIN["dtype"] = "float64"


def test_cli_error_is_one_line_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    out = tmp_path / "out.npz"
    code = main(
        ["sp1-train", "--instances", str(bad), "--depth", "2", "--settings", json.dumps(TRAIN), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "bad.npz" in err
    assert not out.exists()


def test_cli_stages_chain(tmp_path):
    inst, base, shard, table = (tmp_path / f for f in ("i.npz", "b.npz", "depth2.npz", "t.csv"))
    assert main(["sp1-data", "--settings", json.dumps(DATA), "--seed", "1", "--out", str(inst)]) == 0
    assert main(["sp1-baselines", "--instances", str(inst), "--out", str(base)]) == 0
    assert (
        main(
            [
                "sp1-train",
                "--instances",
                str(inst),
                "--depth",
                "2",
                "--settings",
                json.dumps({**TRAIN, "alphas": [0.01, 1], "max_steps": 500}),
                "--quiet",
                "--device",
                "cpu",
                "--out",
                str(shard),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "sp1-table",
                "--instances",
                str(inst),
                "--baselines",
                str(base),
                "--shards",
                str(shard),
                "--config-hash",
                "abc",
                "--out",
                str(table),
            ]
        )
        == 0
    )
    t = io.read_table(table)
    assert len(t) == 4 and set(t["config_hash"]) == {"abc"} and set(t["device"]) == {"cpu"}


def test_same_seed_same_instances_and_growing_count_keeps_them():
    a = problems.make_instances(20, 10, 2, 2, seed=9)
    b = problems.make_instances(20, 10, 2, 3, seed=9)
    for key in ("A", "x_star", "y"):
        np.testing.assert_array_equal(a[key], b[key][:2])


def test_engine_marks_divergence_and_budget():
    inst = problems.make_instances(20, 10, 2, 2, seed=2)
    stop = engine.StopRule(max_steps=200, tol_loss=1e-30, tol_change=0.0, check_every=50)
    # lr far beyond the stability limit 2: the iterates blow up, the engine must say so
    res = model.train(inst, 2, [1.0, 1e-3], stop, 1.9e3, torch.device("cpu"), progress=False)
    assert (res.status[:, 0] == engine.DIVERGED).all()
    ok = model.train(inst, 2, [1.0], stop, 0.5, torch.device("cpu"), progress=False)
    assert (ok.status == engine.MAX_STEPS).all() and (ok.steps == 200).all()


def test_device_choice():
    assert engine.resolve_device("cpu").type == "cpu"
    assert engine.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(IlocoError, match="cuda"):
            engine.resolve_device("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    """float64 on both: the same iterates up to reduction order (1e-9 relative on the limit)."""
    inst = problems.make_instances(30, 15, 2, 3, seed=4)
    stop = engine.StopRule(max_steps=5000, tol_loss=1e-12, tol_change=0.0, check_every=100)
    cpu = model.network_output(model.train(inst, 2, [1e-2, 1.0], stop, 0.5, torch.device("cpu"), progress=False), 2)
    gpu = model.network_output(model.train(inst, 2, [1e-2, 1.0], stop, 0.5, torch.device("cuda"), progress=False), 2)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-9, atol=1e-12)


def test_id_jobs_get_one_thread_where_batched_lu_livelocks(capsys):
    """torch 2.13's batched LU livelocks with two or more threads (README): ID's jobs, which
    solve batched systems, run on one thread and say so; other jobs get what they ask for."""
    import argparse

    from iloco.core import cli as core_cli

    before = torch.get_num_threads()
    try:
        core_cli.job_device(argparse.Namespace(device="cpu", threads=2, command="lr-train"))
        assert torch.get_num_threads() == 2
        core_cli.job_device(argparse.Namespace(device="cpu", threads=2, command="id1-sweep"))
        expect = 1 if torch.backends.mkl.is_available() else 2
        assert torch.get_num_threads() == expect
        if expect == 1:
            assert "id1-sweep: one thread, not 2" in capsys.readouterr().err
    finally:
        torch.set_num_threads(before)
