"""The whole chain, as a user runs it: test config -> tables -> figure -> paper/main.pdf."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from .conftest import snakemake

pytestmark = pytest.mark.workflow


def planned_rules(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule name -> number of jobs, from the job-stats table of a dry run."""
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    stats = out.split("Job stats:")[1].split("\n\n")[0]
    jobs = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", stats, re.M)}
    jobs.pop("total", None)
    return jobs


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    from .conftest import copy_repo

    repo = copy_repo(tmp_path_factory.mktemp("wf") / "repo")
    proc = snakemake(repo, "--configfile", "config/test.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return repo


def test_pdf_holds_numbers_from_the_table(built: Path):
    pdf = built / "paper" / "main.pdf"
    assert pdf.stat().st_size > 10_000
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(text.split())
    table = pd.read_csv(built / "results" / "sp1" / "sp1.csv")
    assert f"Of the {len(table)} runs, {(table['status'] == 'converged').sum()} reached" in text
    assert f"ran {table['steps'].max()} steps" in text
    assert f"exactly on {table.groupby('instance')['bp_exact'].first().sum()} of the" in text
    assert "Figure 1: Diagonal linear networks of depth 2 and 3" in text
    assert (built / "figures" / "sp1_alpha.pdf").stat().st_size > 5_000
    assert (built / "results" / "notebooks" / "sp1_alpha.ipynb").exists()


def test_table_has_rows_metrics_and_provenance(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())["sp1"]
    table = pd.read_csv(built / "results" / "sp1" / "sp1.csv")
    cells = sum(len(r["alphas"]) for r in cfg["runs"])
    assert len(table) == cfg["instances"] * cells
    for col in (
        "dist_xstar",
        "dist_bp",
        "dist_l2",
        "steps",
        "final_loss",
        "status",
        "commit",
        "config_hash",
        "versions",
        "device",
        "wall_time_s",
    ):
        assert table[col].notna().all(), col
    assert table["versions"].str.contains("torch=2.13.0").all()
    # the physics, at test scale: smallest alpha near BP, largest near min-l2
    for depth, g in table.groupby("depth"):
        lo, hi = g[g["alpha"] == g["alpha"].min()], g[g["alpha"] == g["alpha"].max()]
        assert lo["dist_bp"].median() < 1e-2 < lo["dist_l2"].median(), depth
        assert hi["dist_l2"].median() < 1e-3 < hi["dist_bp"].median(), depth


def test_id1_tables_figure_and_paper_numbers(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())["id1"]
    rec = pd.read_csv(built / "results" / "id1" / "recovery.csv")
    m = cfg["recovery"]["m"]
    assert len(rec) == cfg["trials"] * len(cfg["recovery"]["n_hessians"]) * len(cfg["recovery"]["nonortho"])
    for col in ("recovered", "queries", "uniform_rel_err", "commit", "config_hash", "versions", "device"):
        assert rec[col].notna().all(), col
    # the science at test scale: fewer Hessians than neurons never succeeds (and is never claimed);
    # with enough, every weight is found and the network reproduced to high accuracy
    short, enough = rec[rec["n_hessians"] < m], rec[rec["n_hessians"] >= m + 2]
    assert not short["complete"].any() and not short["claimed_complete"].any()
    assert enough["complete"].all() and (enough["uniform_rel_err"] < 1e-5).all()
    assert (
        rec["queries"]
        == rec["n_hessians"] * (2 * rec["d"] ** 2 + 1) + 4 * (2 * rec["m"].clip(upper=rec["n_hessians"]) + 1)
    ).all()
    text = subprocess.run(
        ["pdftotext", str(built / "paper" / "main.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    assert "Figure 4: Identification of shallow tanh networks" in text
    assert f"from {int(rec.loc[rec['n_hessians'] >= m, 'queries'].min())} queries" in text
    assert (built / "figures" / "id1_identification.pdf").stat().st_size > 5_000


def test_sp_family_tables_figures_and_paper_numbers(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())
    sp1 = pd.read_csv(built / "results" / "sp1" / "sp1.csv")
    # the exact regularizer: solved for every cell, and the GD limit lands near its minimizer
    assert (sp1["q_residual"] < 1e-8).all() and sp1["dist_q"].notna().all()
    conv = sp1[sp1["status"] == "converged"]
    assert (conv["dist_q"] < 5e-2).all() and conv["dist_q"].median() < 1e-2
    sp2 = pd.read_csv(built / "results" / "sp2" / "sp2.csv")
    c2 = cfg["sp2"]
    cells = len(c2["deltas"]) * len(c2["rhos"]) * c2["trials"]
    methods = ["bp", "gd2", "gd3", "q2", "q3"]  # q<L>: minimizers of Q_alpha at GD's alpha
    assert sorted(sp2["method"].value_counts().items()) == [(m, cells) for m in methods]
    for col in ("rel_err", "success", "m", "k", "commit", "config_hash", "versions", "device", "wall_time_s"):
        assert sp2[col].notna().all(), col
    assert (sp2["k"] <= sp2["m"]).all()
    bp = sp2[sp2["method"] == "bp"]
    assert (
        bp.loc[bp["rho"] == min(c2["rhos"]), "success"].mean() > bp.loc[bp["rho"] == max(c2["rhos"]), "success"].mean()
    )
    sgd = pd.read_csv(built / "results" / "sp3" / "sgd.csv")
    assert set(sgd["batch"]) == set(cfg["sp3"]["sgd"]["batches"]) | {cfg["sp1"]["m"]}
    noise = pd.read_csv(built / "results" / "sp3" / "noise.csv")
    assert set(noise["method"]) == {"GD", "Lasso"} and noise["rel_err"].notna().all()
    text = subprocess.run(
        ["pdftotext", str(built / "paper" / "main.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    # captions without their numbers (sections may be reordered)
    assert ": Phase transitions over (δ, ρ)" in text and ": (a) Relative distance of the gradient-descent" in text
    assert f"we draw {c2['trials']} instances per cell" in text
    assert "gives ρ = 0.386" in text
    for fig in ("sp2_phase", "sp3_depth_sgd_noise"):
        assert (built / "figures" / f"{fig}.pdf").stat().st_size > 5_000
        assert (built / "results" / "notebooks" / f"{fig}.ipynb").exists()


def test_sp2_success_threshold_change_reruns_only_the_table_and_after(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())
    cfg["sp2"]["success_tol"] = 1e-3
    (built / "tol.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(built, "--configfile", "tol.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert planned_rules(proc) == {"sp2_table": 1, "sp2_figure": 1, "sp2_macros": 1, "paper": 1, "all": 1}


def test_every_rule_logs_and_benchmarks(built: Path):
    logs = list((built / "results" / "logs").rglob("*.log"))
    benches = list((built / "results" / "benchmarks").rglob("*.tsv"))
    assert len(logs) >= 7 and len(benches) >= 7
    assert "100%" in (built / "results" / "logs" / "sp1" / "train_depth2.log").read_text()  # progress bar


def test_second_run_does_nothing(built: Path):
    proc = snakemake(built, "--configfile", "config/test.yaml", "--dry-run")
    assert proc.returncode == 0
    assert planned_rules(proc) == {}


def test_alpha_change_reruns_only_what_depends_on_it(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())
    cfg["sp1"]["runs"][0]["alphas"] = [1e-2, 1.0]
    (built / "alpha.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(built, "--configfile", "alpha.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    # only the depth-2 shard is retrained; data and baselines do not depend on alpha
    # (SP3's depth panel and macros read the SP1 table; its SGD and noise runs do not change)
    assert planned_rules(proc) == {
        "sp1_train": 1,
        "sp1_potential": 1,
        "sp1_table": 1,
        "sp1_figure": 1,
        "sp1_macros": 1,
        "sp3_figure": 1,
        "sp3_macros": 1,
        "paper": 1,
        "all": 1,
    }
    assert "output: results/sp1/train/depth2.npz" in proc.stdout + proc.stderr


def test_two_clean_runs_give_identical_outputs(built: Path, tmp_path: Path):
    """Seeds come from config only: a second clean run elsewhere gives the same table (timing
    and provenance aside), the same figure bytes and the same PDF bytes."""
    from .conftest import copy_repo

    other = copy_repo(tmp_path / "again")
    proc = snakemake(other, "--configfile", "config/test.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    drop = ["wall_time_s", "commit", "config_hash", "versions", "device"]
    a = pd.read_csv(built / "results" / "sp1" / "sp1.csv").drop(columns=drop)
    b = pd.read_csv(other / "results" / "sp1" / "sp1.csv").drop(columns=drop)
    assert a.to_csv(index=False, float_format="%.17g") == b.to_csv(index=False, float_format="%.17g")
    for rel in ("results/sp2/sp2.csv", "results/sp3/sgd.csv", "results/sp3/noise.csv"):
        a, b = (pd.read_csv(root / rel).drop(columns=drop, errors="ignore") for root in (built, other))
        assert a.to_csv(index=False, float_format="%.17g") == b.to_csv(index=False, float_format="%.17g"), rel
    for rel in ("figures/sp1_alpha.pdf", "figures/sp2_phase.pdf", "figures/sp3_depth_sgd_noise.pdf", "paper/main.pdf"):
        assert (built / rel).read_bytes() == (other / rel).read_bytes(), rel


def test_id1_noise_change_reruns_only_that_sweep(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())
    cfg["id1"]["noise"]["noise"] = [0.0, 1e-8]
    (built / "noise.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(built, "--configfile", "noise.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert planned_rules(proc) == {"id1_sweep": 1, "id1_figure": 1, "id1_macros": 1, "paper": 1, "all": 1}
    assert "output: results/id1/noise.csv" in proc.stdout + proc.stderr
