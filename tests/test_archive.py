"""The result archive without Snakemake: keys, byte-reproducible files, restore, staleness, and
the audit's row comparison (the workflow runs of it are in test_workflow.py)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from iloco.archive import audit, store
from iloco.core.errors import IlocoError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((REPO / "config" / "test.yaml").read_text())


def _table(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "method": ["flow"] * n,
            "depth": [2] * n,
            "delta": [0.3] * n,
            "rho": [0.1 * (i + 1) for i in range(n)],
            "trial": list(range(n)),
            "rel_err": [1e-3 * (i + 1) for i in range(n)],
            "wall_time_s": [0.5] * n,
            "device": ["cpu"] * n,
            "commit": ["abc"] * n,
        }
    )


@pytest.fixture
def archived(tmp_path, monkeypatch, config):
    """An archive of one table (results/sp2/sp2.csv) in a scratch working directory."""
    monkeypatch.chdir(tmp_path)
    Path("results/sp2").mkdir(parents=True)
    Path("results/benchmarks/sp2").mkdir(parents=True)
    Path("results/benchmarks/sp2/potential_depth2.tsv").write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t300\n")
    _table().to_csv("results/sp2/sp2.csv", index=False)
    store.write_table("results/sp2/sp2.csv", "archive/test", config, ["results/benchmarks/sp2/potential_depth2.tsv"])
    store.write_manifest("archive/test", "test")
    return tmp_path


def test_table_key_follows_its_sections_only(config):
    sp2 = store.table_key(config, "results/sp2/sp2.csv")
    sp3 = store.table_key(config, "results/sp3/sgd.csv")
    config["sp1"]["k"] += 1  # SP3 trains on SP1's instances; SP2 does not read sp1
    assert store.table_key(config, "results/sp2/sp2.csv") == sp2
    assert store.table_key(config, "results/sp3/sgd.csv")["config_hash"] != sp3["config_hash"]
    # LR2 and LR3 read lr.dynamics and lr.flow only: LR1's settings do not touch their keys
    lr2, lr1 = store.table_key(config, "results/lr/dynamics.csv"), store.table_key(config, "results/lr/completion.csv")
    config["lr"]["rmsprop"]["lr"] *= 2
    assert store.table_key(config, "results/lr/dynamics.csv") == lr2
    assert store.table_key(config, "results/lr/completion.csv") != lr1
    config["lr"]["dynamics"]["decay"] = 0.5
    assert store.table_key(config, "results/lr/dynamics.csv") != lr2
    config["seed"] += 1
    assert store.table_key(config, "results/sp2/sp2.csv")["config_hash"] != sp2["config_hash"]
    with pytest.raises(IlocoError, match="not a result table"):
        store.table_key(config, "results/nothing/x.csv")


def test_id3_budget_key_follows_what_budget_spec_reads(config):
    """Every id3 setting changes the budget table's key exactly when it changes budget_spec:
    the chain's training settings keep an archived budget table, its own settings do not."""
    import copy

    from iloco.ident.chain import budget_spec

    def leaves(d, path=()):
        for k, v in d.items():
            yield from leaves(v, (*path, k)) if isinstance(v, dict) else [(*path, k)]

    key, spec = store.table_key(config, "results/id3/budget.csv"), budget_spec(config["id3"])
    for path in leaves(config["id3"]):
        changed = copy.deepcopy(config)
        node = changed["id3"]
        for k in path[:-1]:
            node = node[k]
        v = node[path[-1]]
        node[path[-1]] = "tanh2" if isinstance(v, str) else ([*v, v[-1]] if isinstance(v, list) else v + 1)
        moved = budget_spec(changed["id3"]) != spec
        assert (store.table_key(changed, "results/id3/budget.csv") != key) == moved, path


def test_compute_digest_ignores_presentation_but_not_training(tmp_path, monkeypatch):
    pkg = tmp_path / "iloco"
    shutil.copytree(REPO / "src" / "iloco", pkg)
    monkeypatch.setattr(store, "PACKAGE", pkg)
    before = store.compute_digest("sp", "sp2")
    (pkg / "sp" / "figures.py").write_text("# a new figure style\n", "utf-8")
    (pkg / "sp" / "claims.py").write_text("# a new claim\n", "utf-8")
    assert store.compute_digest("sp", "sp2") == before
    with open(pkg / "sp" / "model.py", "a") as fh:
        fh.write("\n# a change to training\n")
    assert store.compute_digest("sp", "sp2") != before
    nl1, nl2 = store.compute_digest("nl", "nl1"), store.compute_digest("nl", "nl2")
    with open(pkg / "ident" / "networks.py", "a") as fh:  # NL2's teachers are ident networks
        fh.write("\n#\n")
    assert store.compute_digest("nl", "nl2") != nl2 and store.compute_digest("nl", "nl1") == nl1
    with open(pkg / "nl" / "rich_lazy.py", "a") as fh:  # NL2's trainer is not NL1's code
        fh.write("\n#\n")
    assert store.compute_digest("nl", "nl1") == nl1
    with open(pkg / "nl" / "separable.py", "a") as fh:
        fh.write("\n#\n")
    assert store.compute_digest("nl", "nl1") != nl1
    keys = {t: store.compute_digest("ident", t) for t in ("id1", "id2", "id3")}
    with open(pkg / "ident" / "chain.py", "a") as fh:  # the student trainer: ID3's and NL2's only
        fh.write("\n#\n")
    assert store.compute_digest("ident", "id1") == keys["id1"] and store.compute_digest("ident", "id2") == keys["id2"]
    assert store.compute_digest("ident", "id3") != keys["id3"]
    assert store.compute_digest("nl", "nl2") != nl2


def test_archive_files_are_byte_reproducible_and_the_manifest_hashes_them(archived, config):
    first = Path("archive/test/sp2/sp2.csv.gz").read_bytes()
    store.write_table("results/sp2/sp2.csv", "archive/test", config, ["results/benchmarks/sp2/potential_depth2.tsv"])
    assert Path("archive/test/sp2/sp2.csv.gz").read_bytes() == first
    manifest = json.loads(Path("archive/test/manifest.json").read_text())
    entry = manifest["tables"]["results/sp2/sp2.csv"]
    assert entry["rows"] == 5 and entry["jobs"] == {"sp2/potential_depth2": {"s": 12.5, "max_rss_mb": 300.0}}
    assert entry["commit"] == "abc" and entry["device"] == "cpu"
    assert set(manifest["files"]) == {"sp2/sp2.csv.gz", "sp2/sp2.json"}
    assert manifest["total_s"] == 12.5
    assert gzip.decompress(first) == Path("results/sp2/sp2.csv").read_bytes()


def test_restore_uses_a_matching_table_and_removes_a_stale_copy(archived, config, capsys):
    Path("results/sp2/sp2.csv").unlink()
    Path("results/benchmarks/sp2/potential_depth2.tsv").unlink()
    assert store.restore(config) == {"results/sp2/sp2.csv"}
    assert pd.read_csv("results/sp2/sp2.csv").equals(_table())
    assert Path("results/benchmarks/sp2/potential_depth2.tsv").exists()  # Appendix B's job time
    config["sp2"]["trials"] += 1
    assert store.restore(config) == set()
    err = capsys.readouterr().err
    assert "results/sp2/sp2.csv is stale (config sp2 differs): re-computing it" in err
    assert not Path("results/sp2/sp2.csv").exists()  # the archive's copy is never left to be used


def test_restore_keeps_a_table_the_build_made_itself(archived, config):
    config["sp2"]["trials"] += 1
    _table(3).to_csv("results/sp2/sp2.csv", index=False)  # not the archive's: Snakemake judges it
    store.restore(config, quiet=True)
    assert len(pd.read_csv("results/sp2/sp2.csv")) == 3


def test_an_edited_or_corrupt_archive_is_one_error_naming_the_file(archived, config):
    Path("results/sp2/sp2.csv").unlink()
    gz = Path("archive/test/sp2/sp2.csv.gz")
    gz.write_bytes(gzip.compress(b"method\nedited\n"))
    with pytest.raises(IlocoError, match=r"sp2\.csv\.gz: does not match the sha256"):
        store.restore(config)
    gz.write_bytes(b"not gzip")
    with pytest.raises(IlocoError, match=r"sp2\.csv\.gz: corrupt archive file"):
        store.restore(config)
    Path("archive/test/manifest.json").write_text("{")
    with pytest.raises(IlocoError, match=r"manifest\.json: corrupt archive file"):
        store.restore(config)


def test_compare_names_the_row_and_the_column():
    archived, fresh = _table(), _table()
    archived.loc[3, "rel_err"] *= 1.01
    fresh["wall_time_s"] = 9.0  # timing and provenance columns are not compared
    fresh["commit"] = "def"
    (line,) = audit.compare("results/sp2/sp2.csv", archived, fresh)
    assert line.startswith("results/sp2/sp2.csv: row 3 (method=flow, depth=2, trial=3) column rel_err:")
    assert audit.compare("t", _table(), _table()) == []


def test_compare_takes_missing_text_as_equal_and_text_against_missing_as_not(tmp_path):
    """A text column missing on some rows (LR's ``solver`` is empty on trained rows) round-trips
    through CSV as pandas' string dtype, whose NaN stays missing through ``astype(str)``."""
    table = _table().assign(solver=["SCS", None, None, "SCS", None])
    table.to_csv(tmp_path / "t.csv", index=False)
    back = pd.read_csv(tmp_path / "t.csv")
    assert audit.compare("t", back, back.copy()) == []
    other = back.copy()
    other.loc[1, "solver"] = "SCS"
    (line,) = audit.compare("t", back, other)
    assert "row 1" in line and "column solver" in line


def test_keys_match_when_a_reduced_table_reads_its_floats_back_as_integers(tmp_path):
    """A reduced ID1 table whose non-orthogonalities are all 0.0 is written as 0 and read back
    as integers; its rows are still the archive's (a default audit failed on this)."""
    full = _table().assign(nonortho=[0.0, 0.25, 0.0, 0.5, 0.0])
    part = full[full["nonortho"] == 0.0].reset_index(drop=True)
    part.assign(nonortho=0).to_csv(tmp_path / "p.csv", index=False)  # iloco's tables write 0.0 as 0
    back = pd.read_csv(tmp_path / "p.csv")
    assert pd.api.types.is_integer_dtype(back["nonortho"])
    assert audit.compare("t", full, back, ("nonortho", "trial")) == []


def test_compare_matches_a_reduced_recomputation_by_its_keys():
    keys = ("method", "depth", "delta", "rho", "trial")
    full, part = _table(), _table().iloc[[4, 1]].reset_index(drop=True)
    assert audit.compare("t", full, part, keys) == []
    part.loc[0, "rel_err"] = 1.0
    (line,) = audit.compare("t", full, part, keys)
    assert "row 4 (method=flow, depth=2, delta=0.3, rho=0.5, trial=4) column rel_err" in line
    part.loc[1, "trial"] = 99
    (line,) = audit.compare("t", full, part, keys)
    assert "trial=99) is not in the archive" in line


def test_audit_samples_within_the_budget_and_reduces_what_does_not_fit():
    import random

    from iloco.sp import audit as sp_audit

    available = {
        "sp2": {"tables": ["results/sp2/sp2.csv"], "jobs": {}, "s": 500.0 / sp_audit.SHARE["sp2"]},
        "nl1": {"tables": ["results/nl1/separable.csv"], "jobs": {}, "s": 100.0},
        "id3": {"tables": ["results/id3/chain.csv"], "jobs": {}, "s": 9000.0},
    }
    plan = audit.plan(available, 600.0, random.Random(1), None)
    assert {name for name, _, _ in plan} == {"sp2", "nl1"}  # id3 has no reduction that fits
    (sp2,) = [p for p in plan if p[0] == "sp2"]
    assert sp2[1] is not None and sp2[2] == pytest.approx(available["sp2"]["s"] * sp_audit.SHARE["sp2"])
    assert sum(cost for _, _, cost in plan) <= 600
    assert audit.plan(available, 600.0, random.Random(1), None) == plan  # the seed repeats it


def test_the_printed_repeat_command_carries_what_changes_the_draw():
    assert audit.repeat_command("config/paper.yaml", 5, 600.0, None) == "./repro audit --seed 5"
    assert (
        audit.repeat_command("config/test.yaml", 5, 60.0, ["lr", "id2"])
        == "./repro audit --seed 5 --configfile config/test.yaml --budget-s 60 --jobs lr id2"
    )


@pytest.mark.parametrize("name", ["config/paper.yaml", "config/config.yaml"])
def test_every_reduced_audit_config_is_a_valid_config(name):
    """A reduced re-computation must pass the config's own checks (LR's RMSprop instances may
    not exceed its task's, for one), or the audit would fail on the archive's first job."""
    import random

    from iloco.core import family
    from iloco.core.config import load, validate

    config = load(name, device=False)
    for fam in family.families():
        for section, changes in getattr(audit.family_audit(fam.name), "REDUCE", {}).items():
            for seed in range(5):
                small, said = audit.reduced(config, changes, random.Random(seed))
                assert said, section
                validate(small, device=False)


def test_appendix_b_shows_each_figures_archived_paper_scale_time(archived):
    from iloco.paper import appendix

    manifest = store.read_manifest("archive/test")
    paper = appendix.archived_times(manifest)
    assert paper.to_dict("records") == [{"job": "sp2/potential_depth2", "s": 12.5, "max_rss_mb": 300.0}]
    times = appendix.job_times(["results/benchmarks/sp2/potential_depth2.tsv"])
    tex = appendix.provenance_tex({"sp2": _table()}, times, "0" * 16, "quick", paper)
    row = next(line for line in tex.splitlines() if line.startswith("\\texttt{sp2\\_phase}"))
    assert "& 12\\,s & 300\\,MB & 12\\,s &" in row
    assert "& not archived &" in next(line for line in tex.splitlines() if line.startswith("\\texttt{nl1\\_separable}"))
    assert "\\newcommand{\\ProvArchivedTotal}{12\\,s}" in tex


def test_lr_audit_keeps_the_archived_rmsprop_batch():
    """RMSprop's sensing rows are reproduced exactly only in the archive's batch (its first
    ``lr.rmsprop.instances`` instances): the reduced config keeps that many instances."""
    import random

    from iloco.core.config import load
    from iloco.lr import audit as lr_audit

    config = load("config/paper.yaml", device=False)
    small, _ = audit.reduced(config, lr_audit.REDUCE["lr"], random.Random(0))
    want = config["lr"]["rmsprop"]["instances"]
    assert small["lr"]["completion"]["instances"] == small["lr"]["sensing"]["instances"] == want
    assert small["lr"]["rmsprop"]["instances"] == want
