"""Config validation: every bad value is named in one line, before anything is written."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from iloco.core import config as core_config
from iloco.core.errors import IlocoError

from .conftest import REPO, snakemake

BASE = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "test.yaml"])
def test_shipped_configs_are_valid(name):
    core_config.load(REPO / "config" / name)


def bad(edit):
    cfg = copy.deepcopy(BASE)
    edit(cfg)
    with pytest.raises(IlocoError) as err:
        core_config.validate(cfg)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_misspelled_key():
    msg = bad(lambda c: c["sp1"].__setitem__("instancse", 3))
    assert "unknown key 'sp1.instancse'" in msg and "instances" in msg


def test_misspelled_top_level_key():
    assert "unknown key 'sed'" in bad(lambda c: c.__setitem__("sed", 1))


def test_missing_key():
    assert "missing key 'sp1.train.lr'" in bad(lambda c: c["sp1"]["train"].pop("lr"))


def test_alpha_not_positive():
    for value in (0.0, -1e-3):
        msg = bad(lambda c, v=value: c["sp1"]["runs"][1]["alphas"].__setitem__(2, v))
        assert "sp1.runs[1].alphas[2]" in msg and "> 0" in msg


def test_m_not_below_n():
    msg = bad(lambda c: c["sp1"].__setitem__("m", c["sp1"]["n"]))
    assert "sp1.m" in msg and "< sp1.n" in msg


def test_k_above_m():
    assert "sp1.k" in bad(lambda c: c["sp1"].__setitem__("k", c["sp1"]["m"] + 1))


def test_wrong_type():
    msg = bad(lambda c: c["sp1"].__setitem__("n", "many"))
    assert "sp1.n" in msg and "type" in msg and "integer" in msg


def test_out_of_range_and_enum():
    assert "sp1.train.lr" in bad(lambda c: c["sp1"]["train"].__setitem__("lr", 2.5))
    assert "device" in bad(lambda c: c.__setitem__("device", "gpu"))


def test_duplicate_depths():
    assert "distinct" in bad(lambda c: c["sp1"]["runs"].append(copy.deepcopy(c["sp1"]["runs"][0])))


def test_unreadable_files(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: [1, 2\n")
    with pytest.raises(IlocoError, match="broken.yaml: not valid YAML"):
        core_config.load(broken)
    with pytest.raises(IlocoError, match="missing.yaml: cannot read"):
        core_config.load(tmp_path / "missing.yaml")


@pytest.mark.workflow
@pytest.mark.parametrize(
    "edit, culprit",
    [
        (lambda c: c["sp1"].__setitem__("nn", 3), "sp1.nn"),
        (lambda c: c["sp1"]["runs"][0]["alphas"].__setitem__(0, 0.0), "sp1.runs[0].alphas[0]"),
        (lambda c: c["sp1"].__setitem__("m", 200), "sp1.m"),
        (lambda c: c["sp2"]["rhos"].__setitem__(0, 1.5), "sp2.rhos[0]"),
        (lambda c: c["sp2"].__setitem__("trials", 100000), "sp2.memory_limit_gb"),
    ],
)
def test_snakemake_stops_before_any_job(repo_copy: Path, edit, culprit):
    cfg = copy.deepcopy(BASE)
    edit(cfg)
    (repo_copy / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(repo_copy, "--configfile", "bad.yaml")
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() or "Traceback" in ln]
    assert errors == [lines[-1]]  # one error line, the last, no traceback
    assert lines[-1].startswith("iloco: error: config:") and culprit in lines[-1]
    assert not (repo_copy / "results").exists()
    assert not (repo_copy / "paper" / "main.pdf").exists()


def test_id1_width_beyond_identifiability_limit():
    msg = bad(lambda c: c["id1"]["wide"].__setitem__("m", [10, 46]))
    assert msg == "config: id1.wide.m: 46 exceeds d(d-1)/2 = 45 for d = 10"


def test_id1_activation_not_smooth_and_bad_counts():
    assert "id1.activation: 'relu' is not allowed (one of: tanh, sigmoid, softplus)" in bad(
        lambda c: c["id1"].__setitem__("activation", "relu")
    )
    assert "id1.recovery.n_hessians[0]: 0 is out of range" in bad(
        lambda c: c["id1"]["recovery"].__setitem__("n_hessians", [0, 20])
    )
    assert "id1.noise.m: 0 is out of range" in bad(lambda c: c["id1"]["noise"].__setitem__("m", 0))


def test_id2_widths_and_id3_widths():
    assert bad(lambda c: c["id2"].__setitem__("widths", [[3, 4]])).startswith(
        "config: id2.widths: [3, 4] needs 1 <= m1 <= m0 <= d"
    )
    assert "id2.widths[0]: [5] is out of range" in bad(lambda c: c["id2"].__setitem__("widths", [[5]]))
    msg = bad(lambda c: c["id3"].__setitem__("student_width", 1))
    assert msg == "config: id3.student_width: 1 must be >= teacher_width = 3"
    assert "id3.identify.rank_tol: 1.5 is out of range" in bad(
        lambda c: c["id3"]["identify"].__setitem__("rank_tol", 1.5)
    )
    assert "unknown key 'id3.baseline.epochs'" in bad(lambda c: c["id3"]["baseline"].__setitem__("epochs", 3))
    assert "id3.activation: 'relu' is not allowed" in bad(lambda c: c["id3"].__setitem__("activation", "relu"))


def test_nl1_unknown_loss_and_unstable_step():
    assert "nl1.losses[1]: 'hinge' is not allowed (one of: logistic, exp)" in bad(
        lambda c: c["nl1"].__setitem__("losses", ["exp", "hinge"])
    )
    assert "nl1.lr_scale: 2.5 is out of range" in bad(lambda c: c["nl1"].__setitem__("lr_scale", 2.5))


def test_lr_rank_not_below_d():
    msg = bad(lambda c: c["lr"]["completion"].__setitem__("rank", c["lr"]["completion"]["d"]))
    assert msg == "config: lr.completion.rank: 30 must be < lr.completion.d = 30 (a low-rank ground truth)"


def test_lr_more_observations_than_entries():
    msg = bad(lambda c: c["lr"]["sensing"]["observations"].append(401))
    assert msg == "config: lr.sensing.observations: 401 exceeds d^2 = 400 entries for d = 20"
    assert "lr.flow.observations" in bad(lambda c: c["lr"]["flow"].__setitem__("observations", [145]))


def test_lr_rmsprop_subset_must_be_within_gds_runs():
    """RMSprop's runs pair with GD's: its instances and init scales are a subset of theirs."""
    msg = bad(lambda c: c["lr"]["rmsprop"].__setitem__("instances", c["lr"]["sensing"]["instances"] + 1))
    assert msg.startswith("config: lr.rmsprop.instances: ") and "exceeds lr." in msg
    assert "lr.rmsprop.alphas: [0.5] not in lr.alphas" in bad(lambda c: c["lr"]["rmsprop"].__setitem__("alphas", [0.5]))
    assert "lr.rmsprop.instances: 0 is out of range" in bad(lambda c: c["lr"]["rmsprop"].__setitem__("instances", 0))


def test_lr_alpha_depth_and_lr_out_of_range():
    assert "lr.alphas[0]" in bad(lambda c: c["lr"].__setitem__("alphas", [0.0]))
    assert "lr.depths[0]: 0 is out of range" in bad(lambda c: c["lr"].__setitem__("depths", [0, 2]))
    assert "lr.train.lr" in bad(lambda c: c["lr"]["train"].__setitem__("lr", 2.0))
    assert "unknown key 'lr.flow.depth'" in bad(lambda c: c["lr"]["flow"].__setitem__("depth", 3))


def test_lr_unknown_method_and_rmsprop_constants():
    msg = bad(lambda c: c["lr"].__setitem__("methods", ["gd", "adam"]))
    assert msg == "config: lr.methods[1]: 'adam' is not allowed (one of: gd, rmsprop)"
    assert "lr.methods: ['gd', 'gd'] has non-unique elements" in bad(
        lambda c: c["lr"].__setitem__("methods", ["gd"] * 2)
    )
    assert "lr.rmsprop.beta: 1.0 is out of range" in bad(lambda c: c["lr"]["rmsprop"].__setitem__("beta", 1.0))
    assert "lr.rmsprop.eps: 0.0 is out of range" in bad(lambda c: c["lr"]["rmsprop"].__setitem__("eps", 0.0))
    assert "missing key 'lr.rmsprop.lr'" in bad(lambda c: c["lr"]["rmsprop"].pop("lr"))


def test_sp2_delta_and_rho_outside_unit_interval():
    msg = bad(lambda c: c["sp2"]["deltas"].__setitem__(0, 0.0))
    assert msg == "config: sp2.deltas[0]: 0.0 is out of range (value must be > 0 and <= 1)"
    msg = bad(lambda c: c["sp2"]["rhos"].__setitem__(1, 1.5))
    assert msg == "config: sp2.rhos[1]: 1.5 is out of range (value must be > 0 and <= 1)"
    assert "sp2.deltas[2]: -0.3" in bad(lambda c: c["sp2"]["deltas"].__setitem__(2, -0.3))


def test_sp2_grid_too_large_for_memory_limit():
    msg = bad(lambda c: c["sp2"].__setitem__("trials", 100000))
    assert msg.startswith("config: sp2: a training shard needs") and "sp2.memory_limit_gb = 2" in msg
    msg = bad(lambda c: c["sp2"].__setitem__("memory_limit_gb", 1e-4))
    assert "above sp2.memory_limit_gb" in msg and "raise sp2.shards" in msg
    ok = copy.deepcopy(BASE)  # more shards make the same grid fit
    ok["sp2"]["trials"], ok["sp2"]["shards"], ok["sp2"]["memory_limit_gb"] = 2000, 64, 2
    ok["sp2"]["validation"]["trials"] = 2000  # a row of the validation slice for every shard
    core_config.validate(ok)


def test_sp2_and_sp3_cross_checks():
    assert "distinct" in bad(lambda c: c["sp2"]["runs"].append(copy.deepcopy(c["sp2"]["runs"][0])))
    msg = bad(lambda c: c["sp3"]["sgd"].__setitem__("batches", [4, 40]))
    assert msg == "config: sp3.sgd.batches: 40 must be < sp1.m = 40 (full-batch GD is always run)"
    assert "sp2.success_tol" in bad(lambda c: c["sp2"].__setitem__("success_tol", 0))
    assert "unknown key 'sp3.noise.sigmaa'" in bad(lambda c: c["sp3"]["noise"].__setitem__("sigmaa", 1))
