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


def pdf_text(pdf: Path) -> str:
    """The text of a PDF, whitespace collapsed."""
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())


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
    assert f" {table['steps'].max()} steps. Runs at the smallest" in text  # a float may split the sentence
    assert f"exactly on {table.groupby('instance')['bp_exact'].first().sum()} of the" in text
    assert "Diagonal linear networks of depth 2 and 3" in text
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
        == rec["n_hessians"] * (2 * rec["d"] ** 2 + 1) + 4 * (2 * rec["m"] + 1)  # m directions fitted at any N_h
    ).all()
    text = subprocess.run(
        ["pdftotext", str(built / "paper" / "main.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    assert "Identification of shallow tanh networks from queries. (a)" in text
    assert f"from {int(rec.loc[rec['n_hessians'] >= m, 'queries'].min())} queries" in text
    assert (built / "figures" / "id1_identification.pdf").stat().st_size > 5_000


def test_lr_tables_figures_and_paper_numbers(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())["lr"]
    for task in ("completion", "sensing"):
        t = pd.read_csv(built / "results" / "lr" / f"{task}.csv")
        c = cfg[task]
        runs = len(cfg["depths"]) * len(cfg["alphas"]) * len(cfg["methods"])
        per_instance = len(c["observations"]) * (runs + 1)  # + nuclear norm
        assert len(t) == c["instances"] * per_instance
        for col in (
            "rel_error",
            "mse",
            "effective_rank",
            "sv1",
            "steps",
            "status",
            "commit",
            "config_hash",
            "versions",
        ):
            assert t[col].notna().all(), (task, col)
        # paired: every method saw the same instances and counts
        assert (
            t.groupby("method")[["instance", "observations"]].apply(lambda g: len(g.drop_duplicates())).nunique() == 1
        )
    comp = pd.read_csv(built / "results" / "lr" / "completion.csv")
    assert (comp.loc[comp["method"] == "nuclear", "status"] == "converged").all()
    text = subprocess.run(
        ["pdftotext", str(built / "paper" / "main.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    assert "Deep linear networks and low rank" in text and "LR1: relative test error" in text
    assert f"Of the {len(comp[comp['method'] == 'gd'])} completion runs" in text
    for fig in ("lr1_completion", "lr2_dynamics", "lr3_flow"):
        assert (built / "figures" / f"{fig}.pdf").stat().st_size > 5_000, fig


def test_id2_id3_tables_figures_and_paper_numbers(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())
    id2, id3 = cfg["id2"], cfg["id3"]
    two = pd.read_csv(built / "results" / "id2" / "two_layer.csv")
    assert len(two) == id2["trials"] * len(id2["widths"]) * len(id2["n_hessians"])
    chain = pd.read_csv(built / "results" / "id3" / "chain.csv")
    assert len(chain) == id3["teachers"] * len(id3["init_scales"]) * 2
    assert set(chain["method"]) == {"identification", "adam"}
    budget = pd.read_csv(built / "results" / "id3" / "budget.csv")
    assert len(budget) == id3["budget"]["trials"] * len(id3["budget"]["n_hessians"]) * 2
    for table in (two, chain, budget):
        for col in ("commit", "config_hash", "versions", "device"):
            assert table[col].notna().all(), col
    # the same budget for both methods, and identification exact once N_h >= m
    ide, adam = (budget[budget["method"] == k].reset_index(drop=True) for k in ("identification", "adam"))
    assert (ide["queries"] == adam["queries"]).all()
    m = id3["budget"]["m"]
    assert ide.loc[ide["n_hessians"] >= m, "complete"].all()
    text = subprocess.run(
        ["pdftotext", str(built / "paper" / "main.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = " ".join(text.split())
    assert "Two hidden layers: fraction of (a) first-layer weights" in text
    assert "The chain. (a) Width identified from queries" in text
    widths = sorted(
        chain.loc[(chain["method"] == "identification") & (chain["init_scale"] == min(id3["init_scales"])), "width"]
    )
    assert f"the identified widths are {', '.join(str(w) for w in widths)} (small init)" in text
    macros = (built / "paper" / "generated" / "id23.tex").read_text()
    assert "n/a" not in macros and "nan" not in macros.lower()
    for fig in ("id2_two_layer.pdf", "id3_chain.pdf"):
        assert (built / "figures" / fig).stat().st_size > 5_000


def test_nl1_table_figure_and_paper(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())["nl1"]
    t = pd.read_csv(built / "results" / "nl1" / "separable.csv")
    assert set(t["data"]) == {"soudry", "random"} and set(t["loss_fn"]) == set(cfg["losses"])
    assert t["t"].max() == cfg["max_steps"] and t["commit"].notna().all()
    # the loss falls and the angle to the SVM direction shrinks along every run
    for _, g in t.groupby(["data", "instance", "loss_fn"]):
        g = g.sort_values("t")
        assert g["loss"].iloc[-1] < g["loss"].iloc[0] and g["angle"].iloc[-1] < g["angle"].iloc[0]
    text = subprocess.run(
        ["pdftotext", str(built / "paper" / "main.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Gradient descent on separable data, logistic and exponential loss" in " ".join(text.split())
    assert (built / "figures" / "nl1_separable.pdf").stat().st_size > 5_000


def test_id3_baseline_change_does_not_retrain(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())
    cfg["id3"]["baseline"]["steps"] = 150
    (built / "baseline.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(built, "--configfile", "baseline.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert planned_rules(proc) == {
        "id3_identify": 1,
        "id3_budget": 1,
        "id23_figures": 1,
        "id23_macros": 1,
        "claims": 1,
        "provenance": 1,
        "paper": 1,
        "all": 1,
    }


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
        "claims": 1,
        "provenance": 1,
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
    tables = ("results/id2/two_layer.csv", "results/id3/chain.csv", "results/id3/budget.csv")
    tables += ("results/nl1/separable.csv", "results/sp2/sp2.csv", "results/sp3/sgd.csv", "results/sp3/noise.csv")
    for rel in tables:
        a, b = (pd.read_csv(root / rel).drop(columns=drop, errors="ignore") for root in (built, other))
        assert a.to_csv(index=False, float_format="%.17g") == b.to_csv(index=False, float_format="%.17g"), rel
    figures = ("figures/sp1_alpha.pdf", "figures/sp2_phase.pdf", "figures/sp3_depth_sgd_noise.pdf")
    figures += ("figures/id3_chain.pdf", "figures/nl1_separable.pdf", "figures/nl2_rich_lazy.pdf")
    for rel in figures:
        assert (built / rel).read_bytes() == (other / rel).read_bytes(), rel
    a, b = (pd.read_csv(root / "results/claims/claims.csv").drop(columns=drop[1:4]) for root in (built, other))
    assert a.equals(b)
    # the paper: the same text up to the provenance appendix, which reports this build's job times
    texts = [pdf_text(root / "paper" / "main.pdf").split("This PDF was built at") for root in (built, other)]
    assert len(texts[0]) == 2 and texts[0][0] == texts[1][0]


def test_id1_noise_change_reruns_only_that_sweep(built: Path):
    cfg = yaml.safe_load((built / "config" / "test.yaml").read_text())
    cfg["id1"]["noise"]["noise"] = [0.0, 1e-8]
    (built / "noise.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(built, "--configfile", "noise.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert planned_rules(proc) == {
        "id1_sweep": 1,
        "id1_figure": 1,
        "id1_macros": 1,
        "provenance": 1,
        "paper": 1,
        "all": 1,
    }
    assert "output: results/id1/noise.csv" in proc.stdout + proc.stderr


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
    val = c2["validation"]
    slice_rows = len(val["deltas"]) * len(val["rhos"]) * val["trials"]
    # q<L>: minimizers of Q_alpha at GD's alpha (the flow limit) on every row; GD on the slice
    counts = {"bp": cells, "gd2": slice_rows, "gd3": slice_rows, "q2": cells, "q3": cells}
    assert dict(sp2["method"].value_counts()) == counts
    gd = sp2[sp2["method"].str.startswith("gd")]
    assert gd["flow_dist"].notna().all() and set(gd["delta"]) == set(val["deltas"])
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
    assert planned_rules(proc) == {
        "sp2_table": 1,
        "sp2_figure": 1,
        "sp2_macros": 1,
        "claims": 1,
        "provenance": 1,
        "paper": 1,
        "all": 1,
    }


def test_claims_table_and_appendices_in_the_paper(built: Path):
    from iloco.core import claims

    table = pd.read_csv(built / "results" / "claims" / "claims.csv")
    assert list(table["claim"]) == [c.name for c in claims.all_claims()]
    for col in ("measured", "reference", "op", "tol", "holds", "target", "commit", "config_hash"):
        assert col in table.columns, col
    text = pdf_text(built / "paper" / "main.pdf")
    assert f"{int(table['holds'].sum())} of {len(table)} claims hold in this build" in text
    assert ("FAIL" in text) == (not table["holds"].all())  # test scale marks, does not stop
    assert "This PDF was built at test scale from commit" in text
    assert "./repro paper figures/sp1_alpha.pdf" in text and "torch=2.13.0" in text
    assert "--forceall" in text  # commands print as typed: no en-dash ligature
    for macros in ("claims.tex", "provenance.tex", "constants.tex"):
        assert not re.search(r"\bnan\b", (built / "paper" / "generated" / macros).read_text().lower()), macros


def test_provenance_counts_this_builds_jobs_only(built: Path, tmp_path: Path):
    """A benchmark file that another config left (a depth this config does not train) is not
    counted in the appendix's job count and time; this build's own files all are."""
    import shutil

    from iloco.paper import appendix

    repo = tmp_path / "repo"
    shutil.copytree(built, repo, symlinks=True)
    benches = repo / "results" / "benchmarks"
    own = [p for p in benches.glob("*/*.tsv") if p.parent.name not in ("bench", "paper") or p.stem == "claims"]
    header, row = (benches / "sp1" / "train_depth2.tsv").read_text().splitlines()[:2]
    (benches / "sp1" / "train_depth9.tsv").write_text(f"{header}\n99999\t{row.split(chr(9), 1)[1]}\n")
    proc = snakemake(repo, "--configfile", "config/test.yaml", "--forcerun", "provenance", "--until", "provenance")
    assert proc.returncode == 0, proc.stderr[-2000:]
    tex = (repo / "paper" / "generated" / "provenance.tex").read_text()
    total = appendix._seconds(float(appendix.job_times(own)["s"].sum()))
    assert f"\\newcommand{{\\ProvJobs}}{{{len(own)}}}" in tex
    assert f"\\newcommand{{\\ProvTotal}}{{{total}}}" in tex


def test_claims_of_one_figure_match_the_papers(built: Path, tmp_path: Path):
    """`./repro paper results/claims/<figure>.csv` checks one figure's claims on its tables
    alone, with the same values as the paper's claims table."""
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(built, repo, symlinks=True)
    proc = snakemake(repo, "results/claims/nl1_separable.csv", "--configfile", "config/test.yaml")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert planned_rules(proc) == {"claims_figure": 1}
    one = pd.read_csv(repo / "results" / "claims" / "nl1_separable.csv").set_index("claim")
    paper = pd.read_csv(repo / "results" / "claims" / "claims.csv").set_index("claim").loc[one.index]
    cols = ["measured", "reference", "op", "tol", "holds", "config_hash"]
    pd.testing.assert_frame_equal(one[cols], paper[cols], check_dtype=False)  # 0 reads as int alone


def test_a_claim_made_to_fail_flips_the_build_as_configured(built: Path, tmp_path: Path):
    """Doctor the SP1 table so that a claim that holds at test scale fails: with
    paper.claims: error the claims job stops the build naming it; with mark it is marked."""
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(built, repo, symlinks=True)
    before = pd.read_csv(repo / "results" / "claims" / "claims.csv").set_index("claim")
    assert before.loc["sp1-large-alpha-l2", "holds"]
    sp1 = pd.read_csv(repo / "results" / "sp1" / "sp1.csv")
    sp1.loc[sp1["alpha"] == sp1["alpha"].max(), "dist_l2"] = 1.0
    sp1.to_csv(repo / "results" / "sp1" / "sp1.csv", index=False, float_format="%.17g")
    target = ("paper/generated/claims.tex", "--configfile", "config/test.yaml", "--rerun-triggers", "mtime")
    proc = snakemake(repo, *target, "--config", "paper={'scale': 'test', 'claims': 'error'}")
    assert proc.returncode != 0
    log = (repo / "results" / "logs" / "paper" / "claims.log").read_text().strip().splitlines()
    errors = [line for line in log if line.startswith("iloco: error:")]
    assert len(errors) == 1 and "sp1-large-alpha-l2" in errors[0]
    assert log[-1] == "iloco: removed paper/main.pdf (built from earlier results)"
    assert "claim sp1-large-alpha-l2 does not hold: measured 1" in "\n".join(log)
    assert not (repo / "paper" / "generated" / "claims.tex").exists()
    assert not (repo / "paper" / "main.pdf").exists()  # the previous PDF no longer matches the results
    proc = snakemake(repo, *target, "--config", "paper={'scale': 'test', 'claims': 'mark'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = pd.read_csv(repo / "results" / "claims" / "claims.csv").set_index("claim")
    assert not after.loc["sp1-large-alpha-l2", "holds"]
    tex = (repo / "paper" / "generated" / "claims.tex").read_text()
    row = next(line for line in tex.splitlines() if "[\\texttt{sp1-large-alpha-l2}]" in line)
    assert row.endswith("\\textcolor{red}{\\textbf{FAIL}} \\\\")


def test_report_has_every_figure_with_its_caption(built: Path, tmp_path: Path):
    out = tmp_path / "report.html"
    proc = snakemake(built, "--configfile", "config/test.yaml", "--report", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    html = out.read_text()
    assert len(html) > 100_000
    from .conftest import REPO

    # captions are Jinja templates: each branch (one per figure of a rule) must be rendered
    for rst in sorted((REPO / "workflow" / "report").glob("*.rst")):
        for branch in re.split(r"{%.*?%}", rst.read_text()):
            if branch.split():
                assert " ".join(branch.split()[:5]) in html, rst.name
    from iloco.core import family

    for fig in family.figures():
        assert f"{fig}.pdf" in html, fig


def test_code_change_reruns_its_downstream_jobs_but_never_training(built: Path):
    """Shell rules do not see the package's code: figures, macros, claims and the appendix carry
    a digest of the packages they run (their family and the core, whole), so editing a function
    that only a notebook calls (SP2's theory curve) re-plans the SP figures and macros, the
    claims and the paper, and no training or data job."""
    src = built / "src" / "iloco" / "sp" / "grid.py"
    original = src.read_text()
    assert "def l1_transition_curve(" in original
    try:
        src.write_text(original.replace("def l1_transition_curve(", "def l1_transition_curve(  # an edit\n", 1))
        proc = snakemake(built, "--configfile", "config/test.yaml", "--dry-run")
        assert proc.returncode == 0, proc.stderr[-2000:]
        plan = planned_rules(proc)
        assert {"sp2_figure", "sp2_macros", "claims", "paper"} <= plan.keys()
        assert set(plan) <= {f"sp{i}_{kind}" for i in (1, 2, 3) for kind in ("figure", "macros")} | {
            "claims",
            "paper_constants",
            "provenance",
            "paper",
            "all",
        }
    finally:
        src.write_text(original)
    assert planned_rules(snakemake(built, "--configfile", "config/test.yaml", "--dry-run")) == {}


@pytest.mark.parametrize("cfg", ["config/config.yaml", "config/paper.yaml", "config/test.yaml"])
def test_every_shipped_config_plans_and_the_appendix_times_every_job(repo_copy: Path, cfg: str):
    """Each scale plans its whole DAG from scratch, and the provenance job is handed the
    benchmark file of every planned job that has one (all but the jobs that write the appendix
    and the PDF), so no config's shards go uncounted."""
    proc = snakemake(repo_copy, "--configfile", cfg, "--dry-run", "--printshellcmds")
    assert proc.returncode == 0, proc.stderr[-2000:]
    jobs = planned_rules(proc)
    assert jobs["paper"] == 1 and jobs["claims"] == 1
    (command,) = [line for line in proc.stdout.splitlines() if "iloco provenance" in line]
    files = re.findall(r"results/benchmarks/\S+\.tsv", command)
    assert len(set(files)) == len(files)
    untimed = ("all", "paper", "provenance", "paper_constants")
    # the jobs behind tables taken from the committed archive (paper scale) are not planned:
    # their benchmark files come from the archive, with their paper-scale times
    restored = [f for f in files if (repo_copy / f).exists()]
    assert len(files) == sum(n for rule, n in jobs.items() if rule not in untimed) + len(restored)


def test_archive_is_used_while_it_matches_config_and_code_and_the_audit_finds_a_doctored_row(
    built: Path, tmp_path: Path
):
    """Issue 17: archive two tables; a clone without their results builds from them without
    training; a changed config re-computes instead (one line says why); the audit re-computes
    an archived job and names the row and the column of a doctored value."""
    import gzip
    import hashlib
    import json
    import shutil

    from .conftest import BIN, workflow_env

    repo = tmp_path / "repo"
    shutil.copytree(built, repo, symlinks=True)
    proc = snakemake(
        repo, "archive/test/nl1/separable.json", "archive/test/sp2/sp2.json", "--configfile", "config/test.yaml"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]

    def iloco(*args):
        return subprocess.run([str(BIN / "iloco"), *args], cwd=repo, env=workflow_env(), capture_output=True, text=True)

    assert iloco("archive-manifest").returncode == 0
    manifest = json.loads((repo / "archive/test/manifest.json").read_text())
    assert set(manifest["tables"]) == {"results/nl1/separable.csv", "results/sp2/sp2.csv"}
    assert "sp2/train_depth2_shard0" in manifest["jobs_s"]
    # what a fresh clone lacks: the results, figures and generated macros
    for d in ("results/nl1", "results/sp2", "figures"):
        shutil.rmtree(repo / d)
    for tex in (repo / "paper/generated").glob("*.tex"):
        tex.unlink()
    proc = snakemake(repo, "--configfile", "config/test.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 table(s) of archive/test match this config and code" in proc.stderr
    plan = planned_rules(proc)
    assert not {"nl1_run", "sp2_data", "sp2_bp", "sp2_potential", "sp2_train", "sp2_table"} & set(plan)
    assert {"nl1_figure", "sp2_figure", "sp2_macros", "claims", "paper"} <= set(plan)

    cfg = yaml.safe_load((repo / "config" / "test.yaml").read_text())
    cfg["nl1"]["soudry_random"] += 1
    (repo / "changed.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(repo, "--configfile", "changed.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "results/nl1/separable.csv is stale (config nl1 differs): re-computing it" in proc.stderr
    assert planned_rules(proc)["nl1_run"] == 1 and "sp2_train" not in planned_rules(proc)

    # doctor one archived value, consistently (sha256 updated): only re-computation can tell
    side = repo / "archive/test/nl1/separable.json"
    entry = json.loads(side.read_text())
    gz = repo / "archive/test" / entry["file"]
    table = pd.read_csv(gz)
    table.loc[5, "w_norm"] *= 1.001
    data = table.to_csv(index=False, float_format="%.17g").encode()
    gz.write_bytes(gzip.compress(data, mtime=0))
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    side.write_text(json.dumps(entry))
    assert iloco("archive-manifest").returncode == 0
    proc = iloco("audit", "--configfile", "config/test.yaml", "--seed", "7", "--jobs", "nl1")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "audit: seed 7" in proc.stderr
    assert "jobs nl1/run: results/nl1/separable.csv: row 5 (" in proc.stderr and "column w_norm:" in proc.stderr
    assert "iloco: error: audit: 1 archived values differ from their re-computation" in proc.stderr
