"""Macros from tables, the figure function, and the benchmark command."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from iloco.core import stats, style
from iloco.core import tex as core_tex
from iloco.core.cli import main
from iloco.ident import figures as ident_figures
from iloco.paper import constants, latex
from iloco.sp import figures as sp_figures
from iloco.sp import macros


def test_sci_formatting():
    assert core_tex.sci(1e-3) == r"\ensuremath{10^{-3}}"
    assert core_tex.sci(0.02) == r"\ensuremath{0.02}"
    assert core_tex.sci(0.0031) == r"\ensuremath{3.1\times 10^{-3}}"
    assert core_tex.sci(10.0) == r"\ensuremath{10}"
    # a missing value is not infinite (it printed as \infty before)
    assert core_tex.sci(math.nan) == "n/a"
    assert core_tex.sci(-math.inf) == r"\ensuremath{-\infty}"


def test_thresholds():
    alpha = pd.Series([1e-3, 1e-2, 1e-1, 1.0])
    assert stats.threshold_below(alpha, pd.Series([1e-4, 5e-4, 0.2, 0.5]), 1e-3) == 1e-2
    assert math.isnan(stats.threshold_below(alpha, pd.Series([0.1, 1e-4, 0.2, 0.5]), 1e-3))
    assert stats.threshold_above(alpha, pd.Series([0.9, 0.5, 1e-4, 1e-5]), 1e-3) == 1e-1


def fake_table() -> pd.DataFrame:
    rows = []
    for inst in range(3):
        for depth in (2, 3):
            for a in (1e-3, 1e-1, 10.0):
                rows.append(
                    {
                        "instance": inst,
                        "n": 30,
                        "m": 15,
                        "k": 2,
                        "depth": depth,
                        "alpha": a,
                        "dist_bp": a * 1e-1,
                        "dist_l2": 1e-2 / a,
                        "dist_xstar": a * 1e-1,
                        "bp_dist_xstar": 1e-15,
                        "l2_dist_xstar": 0.6,
                        "bp_exact": True,
                        "steps": 123,
                        "status": "converged" if a > 1e-3 else "max_steps",
                        "device": "cpu",
                        "commit": "abc_def",
                        "config_hash": "h",
                    }
                )
    return pd.DataFrame(rows)


def test_macros_from_table():
    tex = macros.sp1_macros(fake_table(), 1e-3, 1e-2, "test")
    assert r"\newcommand{\SPoneMaxSteps}{123}" in tex
    assert r"\newcommand{\SPoneConverged}{12}" in tex
    assert r"\newcommand{\SPoneBPRangeTwo}{every $\alpha \le$ \ensuremath{10^{-3}} of the grid}" in tex
    assert r"\newcommand{\SPoneCommit}{abc\_def}" in tex


def test_figure_is_deterministic(tmp_path):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    style.save(sp_figures.sp1_alpha(fake_table(), 1e-3), a)
    style.save(sp_figures.sp1_alpha(fake_table(), 1e-3), b)
    assert a.read_bytes() == b.read_bytes()
    assert b"/CreationDate" not in a.read_bytes()
    assert b"/CIDFontType2" in a.read_bytes() and b"/Type3" not in a.read_bytes()  # TrueType, not Type 3


def test_latex_failure_is_one_line(tmp_path):
    tex = tmp_path / "bad.tex"
    tex.write_text(r"\documentclass{article}\begin{document}\undefinedmacro\end{document}")
    with pytest.raises(Exception) as err:
        latex.build_pdf(tex, tmp_path / "bad.pdf", tmp_path / "aux")
    assert "latexmk failed" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "bad.pdf").exists()


def test_benchmark_command_writes_table(tmp_path):
    out = tmp_path / "bench.csv"
    assert (
        main(
            [
                "bench-sp1",
                "--instances",
                "2",
                "--alphas",
                "0.1,1",
                "--steps",
                "20",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    t = pd.read_csv(out)
    assert set(t["mode"]) == {"batched", "per-trial loop"}
    assert (t["trials_per_s"] > 0).all() and (t["matmul_gflops"] > 0).all()


def test_id_benchmark_command_writes_table(tmp_path):
    out = tmp_path / "bench_id.csv"
    args = ["bench-id", "--instances", "2", "--d", "5", "--m", "5", "--n-hessians", "7", "--device", "cpu"]
    assert main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    t = table[table["benchmark"] == "id_identify"]
    assert set(t["mode"]) == {"batched", "per-instance loop"}
    assert (t["instances_per_s"] > 0).all() and (t["complete"] == 2).all()
    assert (t["queries_per_instance"] == 7 * (2 * 25 + 1) + 4 * 11).all()
    s = table[table["benchmark"] == "id_student_trainer"]
    assert set(s["mode"]) == {"batched", "per-student loop"} and (s["instances"] == 2).all()
    assert (s["student_steps_per_s"] > 0).all() and s["roofline_frac"].between(0, 1.5).all()


def test_id3_figure_is_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for t in range(6):
        for scale in (0.01, 1.0):
            for method in ("identification", "adam"):
                rows.append(
                    {
                        "teacher": t,
                        "teacher_width": 3,
                        "student_width": 40,
                        "init_scale": scale,
                        "method": method,
                        "width": 3 + (t % 2),
                        "vs_student_mean": rng.uniform(1e-3, 1e-1),
                    }
                )
    chain = pd.DataFrame(rows)
    budget = pd.DataFrame(
        [
            {"m": 10, "queries": q, "method": meth, "recovered": r, "uniform_rel_err": e}
            for q in (1000, 2000)
            for meth, r, e in (("identification", 10, 1e-8), ("adam", 0, 1e-2))
        ]
    )
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    style.save(ident_figures.id3_chain(chain, budget), a)
    style.save(ident_figures.id3_chain(chain, budget), b)
    assert a.read_bytes() == b.read_bytes()


def test_sp2_benchmark_command_writes_table(tmp_path):
    out = tmp_path / "bench2.csv"
    args = ["bench-sp2", "--n", "12", "--deltas", "0.5", "--rhos", "0.2,0.5", "--trials", "2", "--steps", "20"]
    assert main([*args, "--device", "cpu", "--out", str(out)]) == 0
    t = pd.read_csv(out)
    assert set(t["mode"]) == {"batched", "per-instance loop", "HiGHS LP per instance"}
    grid = t[t["benchmark"] == "sp2_grid"]
    assert (grid["instance_steps_per_s"] > 0).all() and (grid["instances"] == 4).all()
    assert t.loc[t["benchmark"] == "sp2_lp", "lp_median_s"].iloc[0] > 0


def test_nl_benchmark_command_writes_table(tmp_path):
    out = tmp_path / "bench_nl.csv"
    args = ["bench-nl", "--instances", "2", "--n", "20", "--d", "4", "--steps", "20", "--device", "cpu"]
    assert main([*args, "--out", str(out)]) == 0
    t = pd.read_csv(out)
    assert set(t["mode"]) == {"batched", "per-trial loop"}
    assert set(t["model"]) == {"linear", "linear2", "linear3", "relu2"}
    assert (t.loc[t["model"] == "linear", "trials"] == 4).all() and (t.loc[t["model"] != "linear", "trials"] == 2).all()
    assert (t["trial_steps_per_s"] > 0).all() and (t["gflops"] > 0).all() and (t["roofline_frac"] > 0).all()
    assert (t.loc[t["mode"] != "batched", "speedup"] == 1).all()  # each trainer against its own loop


PAPER = Path(__file__).resolve().parents[1] / "paper"


def test_no_hand_typed_numbers_in_the_paper_sources():
    """Every number in the text comes from paper/generated/ (results, settings, published values)."""
    sources = [PAPER / "main.tex", *sorted((PAPER / "sections").glob("*.tex"))]
    assert len(sources) >= 7
    found = {str(p.relative_to(PAPER)): latex.hand_typed_numbers(p.read_text()) for p in sources}
    assert not {k: v for k, v in found.items() if v}, found


def test_hand_typed_number_check_catches_results_and_spares_equations():
    flagged = latex.hand_typed_numbers(
        "at 2000 observations depth~3 recovers,\n"
        "until $L\\le 10^{-6}$; error 0.85 % a comment 1234\n"
        "with $N_h\\le16$ and 85--100\\,\\% \\cite{arora2019} \\ref{fig:2}"
    )
    assert [n for _, n in flagged] == ["2000", "10", "0.85", "16", "85", "100"]  # 10^{-6}: the 10 is enough
    assert [line for line, _ in flagged] == [1, 2, 2, 3, 3, 3]
    spared = "$x^2$, $\\tfrac{1}{2}$, $\\ell_1$, depth 2 and 3, depth-4, their Figure~1, the 50\\,\\% level"
    spared += ", $\\ln(10)$"
    assert latex.hand_typed_numbers(spared) == []


def test_constants_macros_carry_settings_and_published_values():
    from iloco.lr import spec

    tex = constants.constants_macros({"lr_tol_loss": 1e-6})
    assert r"\newcommand{\SetLRTolLoss}{\ensuremath{10^{-6}}}" in tex
    assert rf"\newcommand{{\PubLRObsLow}}{{{spec.LR1_ARORA['low_obs']}}}" in tex
    assert r"\newcommand{\PubIDoneRange}{85--100\,\%}" in tex
    assert r"\newcommand{\SetBand}{10--90\,\%}" in tex


def test_claim_predicates_with_tolerance_and_broken_tables():
    from iloco.core import claims, family
    from iloco.core.errors import IlocoError

    c = claims.Claim("x", "SP", "text", ("sp1",), lambda tb, s: (0.0, 0.0), "<=", 0.1, "figures/x.pdf")
    assert c.holds(0.1, 0.0) and not c.holds(0.11, 0.0)
    assert not c.holds(math.nan, 0.0) and not c.holds(math.inf, 0.0)
    g = claims.Claim("y", "SP", "text", ("sp1",), lambda tb, s: (0.0, 0.0), ">=", 0.2, "figures/x.pdf")
    assert g.holds(0.8, 1.0) and not g.holds(0.79, 1.0)
    settings = {k: 1e-2 for k in claims.SETTINGS}
    with pytest.raises(IlocoError, match="claim lr1-completion-depth: no table lr_completion"):
        claims.evaluate({}, settings)
    with pytest.raises(IlocoError, match="claim .*: cannot evaluate on tables"):
        claims.evaluate({name: pd.DataFrame({"a": [1]}) for name in family.tables()}, settings)
    with pytest.raises(IlocoError, match="settings lack"):
        claims.evaluate({}, {})


def test_claims_of_one_figure():
    from iloco.core import claims
    from iloco.core.errors import IlocoError

    assert sum(len(claims.of_figure(f)) for f in claims.figures()) == len(claims.all_claims())
    assert {c.name for c in claims.of_figure("nl1_separable")} == {"nl1-loss-rate", "nl1-norm-growth", "nl1-angle"}
    assert claims.tables_of("nl1_separable") == {"nl1": "results/nl1/separable.csv"}
    assert set(claims.tables_of("lr1_completion")) == {"lr_completion", "lr_sensing"}
    assert set(claims.tables_of("id2_two_layer")) == {"id2_regime"}
    with pytest.raises(IlocoError, match="no claims about figure 'lr9_none'"):
        claims.of_figure("lr9_none")
    settings = {k: 1e-2 for k in claims.SETTINGS}
    with pytest.raises(IlocoError, match="claim nl1-loss-rate: no table nl1"):
        claims.evaluate({}, settings, "nl1_separable")  # only that figure's claims are looked at


def test_id3_claim_speaks_of_the_standard_init_students():
    """id3-beats-adam is the share of wins at the largest init scale: losing most standard-init
    students fails it, however the small-init ones go (the text gives those)."""
    from iloco.ident import claims as id_claims

    def chain(wins_small, wins_std):
        rows = []
        for scale, wins in ((0.01, wins_small), (1.0, wins_std)):
            for t in range(4):
                ide = 1e-3 if t < wins else 1e-1
                rows += [
                    {"teacher": t, "init_scale": scale, "method": "identification", "vs_student_mean": ide},
                    {"teacher": t, "init_scale": scale, "method": "adam", "vs_student_mean": 1e-2},
                ]
        return {"id3_chain": pd.DataFrame(rows)}

    claim = next(c for c in id_claims.CLAIMS if c.name == "id3-beats-adam")
    assert claim.measure(chain(0, 3), {}) == (0.75, 0.5) and claim.holds(0.75, 0.5)
    assert claim.measure(chain(4, 1), {}) == (0.25, 0.5) and not claim.holds(0.25, 0.5)
    assert not claim.holds(*claim.measure(chain(4, 2), {}))  # half is not most


def test_readme_lists_every_claim():
    from iloco.core import claims

    readme = (PAPER.parent / "README.md").read_text()
    assert claims.markdown() in readme, "README's claims table is stale: paste `iloco claims --list`"


def test_job_times_and_figure_costs_from_benchmark_files(tmp_path):
    from iloco.core.errors import IlocoError
    from iloco.paper import appendix

    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for job, s, rss in (("sp1/data", 1.5, 100.0), ("sp1/train_depth2", 10.0, 300.0), ("bench/sp1_trainer", 99, 1.0)):
        (tmp_path / job).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{job}.tsv").write_text(header + f"{s}\t0:00:01\t{rss}\t0\t0\t0\t0\t0\t0\t0\n")
    (tmp_path / "sp1" / "train_depth9.tsv").write_text(header + "1000\t0:16:40\t1\t0\t0\t0\t0\t0\t0\t0\n")
    jobs = ("sp1/data", "sp1/train_depth2", "sp1/train_depth3", "bench/sp1_trainer")
    build = [tmp_path / f"{job}.tsv" for job in jobs]
    times = appendix.job_times(build)
    # only this build's files: not another config's depth 9, not ./repro bench, not a job never benchmarked
    assert list(times["job"]) == ["sp1/data", "sp1/train_depth2"]
    costs = appendix.figure_costs(times).set_index("figure")
    assert costs.loc["sp1_alpha", "s"] == 11.5 and costs.loc["sp1_alpha", "max_rss_mb"] == 300.0
    assert costs.loc["sp3_depth_sgd_noise", "jobs"] == 2 and math.isnan(costs.loc["nl1_separable", "s"])
    (tmp_path / "sp1" / "broken.tsv").write_text("not a table")
    with pytest.raises(IlocoError, match="broken.tsv: not a Snakemake benchmark table"):
        appendix.job_times([*build, tmp_path / "sp1" / "broken.tsv"])
