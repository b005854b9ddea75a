"""Bad input (issue 16): one line naming the culprit and what is allowed, a non-zero exit, no
traceback, nothing half-written; and no build can break another.

The table (test_bad_input) calls the validation and the command line in-process, so its 60+
cases run in seconds; the tests after it each reproduce one item through repro or Snakemake.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from iloco.core import config as core_config
from iloco.core import io
from iloco.core.cli import main
from iloco.core.errors import IlocoError
from iloco.paper import latex

from .conftest import REPO, snakemake

TEST = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
TEST_TEXT = (REPO / "config" / "test.yaml").read_text()


def _set(path: str, value):
    """An edit of the test config: the key at dotted ``path`` (list indices as numbers) := value."""

    def edit(cfg):
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node = cfg
        for p in parents:
            node = node[p]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


_DELETE = object()


def _gpu() -> bool:
    import torch

    return torch.cuda.is_available()


# (edit of config/test.yaml, substrings the one-line error must contain)
CONFIG_CASES = {
    "nan-lr": (_set("sp1.train.lr", float("nan")), ["sp1.train.lr", "nan", "finite"]),
    "nan-bp_within": (_set("sp1.bp_within", float("nan")), ["sp1.bp_within", "finite"]),
    "inf-l2_within": (_set("sp1.l2_within", float("inf")), ["sp1.l2_within", "inf", "finite"]),
    "nan-in-list": (_set("sp2.deltas.0", float("nan")), ["sp2.deltas[0]", "finite"]),
    "inf-tau_max": (_set("lr.flow.tau_max", float("inf")), ["lr.flow.tau_max", "finite"]),
    "minus-inf-h": (_set("id1.h", float("-inf")), ["id1.h", "finite"]),
    "missing-sp1.k": (_set("sp1.k", _DELETE), ["missing key 'sp1.k'"]),
    "missing-seed": (_set("seed", _DELETE), ["missing key 'seed'"]),
    "missing-section": (_set("nl2", _DELETE), ["missing key 'nl2'"]),
    "dup-sp1-alphas": (_set("sp1.runs.0.alphas", [1e-3, 1e-3, 10.0]), ["sp1.runs[0].alphas", "distinct"]),
    "dup-nl1-losses": (_set("nl1.losses", ["logistic", "exp", "exp"]), ["nl1.losses", "distinct"]),
    "dup-id1-n_hessians": (_set("id1.recovery.n_hessians", [4, 8, 8]), ["id1.recovery.n_hessians", "distinct"]),
    "dup-lr-depths": (_set("lr.depths", [1, 2, 2]), ["lr.depths", "distinct"]),
    "dup-sp2-rhos": (_set("sp2.rhos", [0.2, 0.2]), ["sp2.rhos", "distinct"]),
    "dup-sp3-batches": (_set("sp3.sgd.batches", [3, 3]), ["sp3.sgd.batches", "distinct"]),
    "dup-id2-n_hessians": (_set("id2.n_hessians", [3, 3]), ["id2.n_hessians", "distinct"]),
    "dup-nl2-ranks": (_set("nl2.digits.ranks", [1, 1]), ["nl2.digits.ranks", "distinct"]),
    "dup-nl1-archs": (_set("nl1.homogeneous.archs", ["relu2", "relu2"]), ["nl1.homogeneous.archs", "distinct"]),
    "dup-id3-init_scales": (_set("id3.init_scales", [1.0, 1.0]), ["id3.init_scales", "distinct"]),
    "dup-sp1-depths": (_set("sp1.runs.1.depth", 2), ["sp1.runs", "distinct"]),
    "memory-sp1": (
        lambda c: c["sp1"].update(n=100000, m=99999, instances=100000),
        ["sp1", "GiB", "memory of this machine"],
    ),
    "memory-id1": (
        lambda c: c["id1"].update(
            trials=10000, recovery={"d": 200, "m": 200, "n_hessians": [100000], "nonortho": [0.0]}
        ),
        ["id1.recovery", "GiB"],
    ),
    "memory-nl2": (
        lambda c: c["nl2"]["teacher"].update(teachers=10000, n_test=10000000, width=100000),
        ["nl2.teacher", "GiB"],
    ),
    "memory-lr": (
        lambda c: c["lr"].update(sensing={"d": 2000, "rank": 1, "observations": [4000000], "instances": 10000}),
        ["lr.sensing", "GiB"],
    ),
    "memory-sp2": (_set("sp2.trials", 100000), ["sp2", "memory_limit_gb"]),
    "device-gpu": (_set("device", "gpu"), ["device", "one of: auto, cpu, cuda"]),
    "n-not-integer": (_set("sp1.n", "many"), ["sp1.n", "expected integer"]),
    "n-string-from-config": (_set("sp1.n", "10"), ["sp1.n", "'10'", "--config", "string"]),
    "unknown-key": (_set("sp1.nn", 3), ["unknown key 'sp1.nn'", "instances"]),
    "unknown-top-key": (_set("sed", 3), ["unknown key 'sed'"]),
    "m-not-below-n": (_set("sp1.m", 30), ["sp1.m", "< sp1.n"]),
    "k-above-m": (_set("sp1.k", 16), ["sp1.k", "<= sp1.m"]),
    "lr-unstable": (_set("sp1.train.lr", 2.5), ["sp1.train.lr", "< 2"]),
    "dtype": (_set("sp1.train.dtype", "float16"), ["sp1.train.dtype", "float64"]),
    "sgd-batch-full": (_set("sp3.sgd.batches", [15]), ["sp3.sgd.batches", "< sp1.m"]),
    "id1-wide": (_set("id1.wide.m", [6, 16]), ["id1.wide.m", "d(d-1)/2"]),
    "id2-widths": (_set("id2.widths", [[2, 4]]), ["id2.widths", "m1 <= m0"]),
    "id3-student": (_set("id3.student_width", 1), ["id3.student_width", "teacher_width"]),
    "nl2-width": (_set("nl2.teacher.width", 1), ["nl2.teacher.width", "teacher_width"]),
    "lr-rank": (_set("lr.completion.rank", 12), ["lr.completion.rank", "< lr.completion.d"]),
    "lr-observations": (_set("lr.sensing.observations", [20, 65]), ["lr.sensing.observations", "d^2"]),
    "lr-kmax": (_set("lr.dynamics.kmax", 11), ["lr.dynamics.kmax"]),
    "nl1-lr_scale": (_set("nl1.lr_scale", 2), ["nl1.lr_scale", "< 2"]),
    "claims-mode": (_set("paper.claims", "ignore"), ["paper.claims", "error, mark"]),
    "runs-empty": (_set("sp1.runs", []), ["sp1.runs", "at least 1"]),
    "threads-zero": (_set("threads", 0), ["threads", ">= 1"]),
    "checkpoint-negative": (_set("checkpoint_every_s", -1), ["checkpoint_every_s", ">= 0"]),
    "bool-for-number": (_set("sp1.bp_within", "yes"), ["sp1.bp_within", "number"]),
}


def _config_file(name: str, content: bytes | str):
    def make(tmp: Path) -> Path:
        path = tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    return make


# (writes a file, returns the path to check) -> substrings of the one-line error
FILE_CASES = {
    "missing-file": (lambda tmp: tmp / "nope.yaml", ["nope.yaml", "cannot read"]),
    "directory": (lambda tmp: tmp, ["is a directory"]),
    "not-utf8": (_config_file("latin1.yaml", TEST_TEXT.encode() + b"# caf\xe9\n"), ["latin1.yaml", "UTF-8", "line"]),
    "yaml-syntax": (_config_file("syntax.yaml", "seed: [1, 2\ndevice: cpu\n"), ["syntax.yaml", "YAML", "line 2"]),
    "tab-indent": (_config_file("tabs.yaml", "sp1:\n\tn: 3\n"), ["tabs.yaml", "YAML", "line 2"]),
    "list": (_config_file("list.yaml", "- seed\n- 7\n"), ["list.yaml", "mapping", "not a list"]),
    "empty": (_config_file("empty.yaml", ""), ["empty.yaml", "empty"]),
    "scalar": (_config_file("scalar.yaml", "42\n"), ["scalar.yaml", "mapping"]),
    "duplicate-key": (_config_file("dup.yaml", TEST_TEXT + "seed: 8\n"), ["dup.yaml", "duplicate key 'seed'", "line"]),
    "nested-duplicate": (
        _config_file("dup2.yaml", TEST_TEXT.replace("  k: 2\n", "  k: 2\n  k: 3\n")),
        ["dup2.yaml", "duplicate key 'k'"],
    ),
    "nan-in-file": (
        _config_file("nan.yaml", TEST_TEXT.replace("  bp_within: 1.0e-2", "  bp_within: .nan")),
        ["sp1.bp_within"],
    ),
    "incomplete": (_config_file("nok.yaml", TEST_TEXT.replace("  k: 2\n", "")), ["nok.yaml", "missing key 'sp1.k'"]),
    "csv-as-config": (_config_file("sp1.csv", "depth,alpha\n2,0.1\n"), ["sp1.csv", "mapping"]),
}


def _npz(tmp: Path, name: str, data: bytes) -> str:
    (tmp / name).write_bytes(data)
    return str(tmp / name)


#: The --settings of the SP jobs the CLI cases call (what the rules pass as JSON).
TRAIN = json.dumps(
    {"alphas": [0.1], "lr": 0.5, "max_steps": 100, "tol_loss": 1e-10, "tol_change": 0.0, "check_every": 10}
    | {"dtype": "float64"}
)
ALPHAS = json.dumps({"alphas": [0.1]})
MACROS = json.dumps({"bp_within": 0.01, "l2_within": 0.01, "scale": "test"})
DATA = json.dumps({"n": 10, "m": 5, "k": 1, "instances": 1, "nonzeros": "gaussian"})

# argv of `iloco` built in tmp (the output, if any, is tmp/out.*) -> substrings of the error
CLI_CASES = {
    "garbage-npz": (
        lambda t: (
            ["sp1-train", "--instances", _npz(t, "g.npz", b"\x80\x04garbage"), "--depth", "2", "--settings", TRAIN]
            + ["--out", str(t / "out.npz")]
        ),
        ["g.npz", "not an .npz archive"],
    ),
    "text-npz": (
        lambda t: ["sp1-baselines", "--instances", _npz(t, "t.npz", b"hello"), "--out", str(t / "out.npz")],
        ["t.npz", "not an .npz archive"],
    ),
    "truncated-npz": (
        lambda t: ["sp1-baselines", "--instances", _npz(t, "tr.npz", _instances()[:300]), "--out", str(t / "out.npz")],
        ["tr.npz", "corrupt input"],
    ),
    "wrong-npz": (
        lambda t: (
            ["sp1-potential", "--instances", _npz(t, "w.npz", _other_npz()), "--depth", "2", "--settings", ALPHAS]
            + ["--out", str(t / "out.npz")]
        ),
        ["w.npz", "missing arrays"],
    ),
    "missing-npz": (
        lambda t: ["sp1-baselines", "--instances", str(t / "none.npz"), "--out", str(t / "out.npz")],
        ["none.npz", "file not found"],
    ),
    "missing-table": (
        lambda t: (["sp1-macros", "--table", str(t / "sp1.csv"), "--settings", MACROS, "--out", str(t / "out.tex")]),
        ["sp1.csv", "file not found"],
    ),
    "table-lacks-columns": (
        lambda t: (
            ["sp1-macros", "--table", _npz(t, "cols.csv", b"a,b\n1,2\n"), "--settings", MACROS]
            + ["--out", str(t / "out.tex")]
        ),
        ["cols.csv", "lacks columns"],
    ),
    "empty-table": (
        lambda t: (
            ["sp1-macros", "--table", _npz(t, "empty.csv", b""), "--settings", MACROS] + ["--out", str(t / "out.tex")]
        ),
        ["empty.csv", "corrupt table"],
    ),
    "missing-notebook": (
        lambda t: ["notebook", str(t / "none.ipynb"), str(t / "out.ipynb"), "-p", "table", "x.csv"],
        ["none.ipynb", "notebook not found"],
    ),
}


def _instances() -> bytes:
    from iloco.sp import problems

    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"iloco-bad-input-{os.getpid()}.npz"
    io.save_npz(path, **problems.make_instances(10, 5, 1, 1, seed=0))
    data = path.read_bytes()
    path.unlink()
    return data


def _other_npz() -> bytes:
    import io as stdio

    buf = stdio.BytesIO()
    np.savez(buf, z=np.zeros(3))
    return buf.getvalue()


CASES = (
    [pytest.param("config", *v, id=f"config-{k}") for k, v in CONFIG_CASES.items()]
    + [pytest.param("file", *v, id=f"file-{k}") for k, v in FILE_CASES.items()]
    + [pytest.param("cli", *v, id=f"cli-{k}") for k, v in CLI_CASES.items()]
    + [
        pytest.param("device", _set("device", "cuda"), ["device", "'cuda'", "no GPU"], id="config-cuda-without-gpu"),
        pytest.param("enospc", None, ["out.npz", "No space left on device", "nothing was written"], id="io-disk-full"),
    ]
)


@pytest.mark.parametrize("kind, make, culprit", CASES)
def test_bad_input(kind, make, culprit, tmp_path, capsys, monkeypatch):
    """Every bad input: IlocoError / exit 2, one line naming the culprit, no traceback, no output."""
    if kind in ("config", "device"):
        if kind == "device" and _gpu():
            pytest.skip("this machine has a GPU: device: cuda is valid here")
        cfg = copy.deepcopy(TEST)
        make(cfg)
        with pytest.raises(IlocoError) as err:
            core_config.validate(cfg)
        msg = str(err.value)
    else:
        if kind == "file":
            argv = ["check-config", str(make(tmp_path))]
        elif kind == "cli":
            argv = make(tmp_path)
        else:  # enospc: the disk fills during the atomic write

            def full(*_args):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr(io.os, "replace", full)
            argv = ["sp1-data", "--settings", DATA, "--seed", "0"]
            argv += ["--out", str(tmp_path / "out.npz")]
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2, out + err
        assert err.startswith("iloco: error: ") and err.count("\n") == 1, err
        msg = err
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(("out", ".out"))]
        assert leftovers == [], leftovers  # nothing half-written
    assert "\n" not in msg.rstrip("\n") and "Traceback" not in msg
    for part in culprit:
        assert part in msg, (part, msg)


def test_table_is_large_enough():
    assert len(CASES) >= 60


def test_latex_error_names_the_failing_line():
    """Item 6: latexmk's 'file:line:error style messages enabled.' banner is not the error."""
    log = (
        "This is pdfTeX, Version 3.141592653\n"
        " restricted \\write18 enabled.\n"
        " file:line:error style messages enabled.\n"
        "(./main.tex\n"
        "./sections/discussion.tex:34: Undefined control sequence.\n"
        "l.34 \\foo\n"
    )
    assert latex.latex_error(log) == "./sections/discussion.tex:34: Undefined control sequence."
    assert latex.latex_error("! LaTeX Error: File `x.sty' not found.\n") == "! LaTeX Error: File `x.sty' not found."
    assert latex.latex_error("") == "no error line in the log"


def test_build_pdf_reports_the_failing_line(tmp_path, monkeypatch):
    """Item 6 through build_pdf: a failing latexmk run names file and line, writes no PDF."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "main.log").write_text(
        " file:line:error style messages enabled.\n./discussion.tex:34: Undefined control sequence.\n"
    )
    (tmp_path / "main.tex").write_text("\\documentclass{article}")
    monkeypatch.setattr(latex.shutil, "which", lambda _: "/usr/bin/latexmk")
    monkeypatch.setattr(latex.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 12, "", ""))
    with pytest.raises(IlocoError, match=r"discussion\.tex:34: Undefined control sequence"):
        latex.build_pdf(tmp_path / "main.tex", tmp_path / "main.pdf", work)
    assert not (tmp_path / "main.pdf").exists()


# ------------------------------------------------------------------ repro: lock and config files
def _stub_repo(tmp_path: Path) -> tuple[Path, Path, dict]:
    """A directory with repro and src/ whose 'venv' records the snakemake calls instead of running them."""
    real = tmp_path / "real"
    (real / "venv" / "bin").mkdir(parents=True)
    shutil.copy2(REPO / "repro", real / "repro")
    (real / "src").symlink_to(REPO / "src")
    calls = tmp_path / "calls.txt"
    stub = real / "venv" / "bin" / "snakemake"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    stub.chmod(0o755)
    python = real / "venv" / "bin" / "python"  # a wrapper: a symlink would lose the venv
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    tools = tmp_path / "tools"  # latexmk is only looked up here
    tools.mkdir()
    (tools / "latexmk").write_text("#!/bin/sh\n")
    (tools / "latexmk").chmod(0o755)
    env = dict(os.environ, ILOCO_SKIP_SETUP="1", ILOCO_VENV="venv", PATH=f"{tools}:{os.environ['PATH']}")
    return real, calls, env


def test_second_build_through_a_symlink_keeps_the_first_builds_lock(tmp_path):
    """Item 1: a running build in the physical directory is seen from a symlinked path."""
    real, calls, env = _stub_repo(tmp_path)
    (real / ".snakemake" / "locks").mkdir(parents=True)
    (real / ".snakemake" / "locks" / "0.input.lock").write_text("")
    link = tmp_path / "link"
    link.symlink_to(real)
    running = subprocess.Popen(["bash", "-c", "exec -a snakemake-first-build sleep 60"], cwd=real)
    try:
        proc = subprocess.run(
            ["bash", "-c", "cd link && ./repro paper --cores 1"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
    finally:
        running.kill()
        running.wait()
    assert proc.returncode == 0, proc.stderr
    assert "--unlock" not in calls.read_text()  # the running build's lock stays: Snakemake refuses
    assert "stale" not in proc.stderr
    # with no build running, the lock is stale and removed
    subprocess.run(["bash", "-c", "cd link && ./repro paper --cores 1"], cwd=tmp_path, env=env, check=True)
    assert "--unlock" in calls.read_text()


@pytest.mark.parametrize(
    "args, culprit",
    [
        (["--configfile", "nope.yaml"], "nope.yaml: cannot read config"),
        (["--configfile=latin1.yaml"], "latin1.yaml: not UTF-8"),
        (["--configfile", "list.yaml"], "list.yaml: config must be a mapping"),
        (["--configfile", "empty.yaml"], "empty.yaml: config is empty"),
        (["--configfile", "syntax.yaml"], "syntax.yaml: not valid YAML at line 2"),
        (["--configfile", "ok.yaml", "results/sp1/sp1.csv"], "'results/sp1/sp1.csv' follows --configfile"),
    ],
)
def test_repro_checks_config_files_before_snakemake(tmp_path, args, culprit):
    """Item 7: problems Snakemake reports with a traceback (it reads --configfile before the workflow)."""
    real, calls, env = _stub_repo(tmp_path)
    (real / "ok.yaml").write_text("seed: 1\n")
    (real / "latin1.yaml").write_bytes(b"seed: 1\n# caf\xe9\n")
    (real / "list.yaml").write_text("- 1\n")
    (real / "empty.yaml").write_text("")
    (real / "syntax.yaml").write_text("seed: [1\nx: 2\n")
    proc = subprocess.run([str(real / "repro"), "paper", *args], env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("repro: error: ") and culprit in lines[0], proc.stderr
    assert not calls.exists()  # Snakemake never started


# ------------------------------------------------------------------ Snakemake (dry runs, no jobs)
@pytest.mark.workflow
def test_snakemake_config_is_complete_strict_and_explained(repo_copy: Path):
    """Items 4, 11, 12: a --configfile replaces config/config.yaml (no silent completion from the
    quick scale); a duplicate key, device: cuda without a GPU and a --config string are named."""
    (repo_copy / "nok.yaml").write_text(TEST_TEXT.replace("  k: 2\n", ""))
    (repo_copy / "dup.yaml").write_text(TEST_TEXT + "seed: 8\n")
    cases = [
        (["--configfile", "nok.yaml"], "missing key 'sp1.k'"),
        (["--configfile", "dup.yaml"], "duplicate key 'seed'"),
        (["--configfile", "config/test.yaml", "--config", "sp1={'n':10}"], "--config passes values"),
    ]
    if not _gpu():
        (repo_copy / "cuda.yaml").write_text(TEST_TEXT.replace("device: auto", "device: cuda"))
        cases.append((["--configfile", "cuda.yaml"], "torch sees no GPU"))
    for args, culprit in cases:
        proc = snakemake(repo_copy, "-n", *args)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert lines[-1].startswith("iloco: error: ") and culprit in lines[-1], proc.stderr
    assert not (repo_copy / "results").exists()


@pytest.mark.workflow
def test_deleted_figure_or_table_is_rebuilt(repo_copy: Path):
    """Item 3: with paper/main.pdf up to date, a deleted figure or table is rebuilt (Snakemake
    said 'Nothing to be done'). Outputs are stand-ins made by --touch, so this takes no jobs."""
    summary = snakemake(repo_copy, "-n", "--detailed-summary", "--configfile", "config/test.yaml")
    outputs = [ln.split("\t")[0] for ln in summary.stdout.splitlines()[1:] if ln.strip()]
    assert "figures/sp1_alpha.pdf" in outputs and "results/sp1/sp1.csv" in outputs
    for rel in outputs:
        (repo_copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo_copy / rel).touch()
    assert snakemake(repo_copy, "--touch", "--configfile", "config/test.yaml").returncode == 0
    proc = snakemake(repo_copy, "-n", "--configfile", "config/test.yaml")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    (repo_copy / "figures" / "sp1_alpha.pdf").unlink()
    (repo_copy / "results" / "sp2" / "sp2.csv").unlink()
    proc = snakemake(repo_copy, "-n", "--configfile", "config/test.yaml")
    text = proc.stdout + proc.stderr
    assert "Nothing to be done" not in text
    for rule in ("sp1_figure", "sp2_table", "sp2_figure", "paper"):
        assert f"rule {rule}:" in text or f"{rule} " in text, rule


@pytest.mark.workflow
def test_failing_notebook_is_one_line_and_leaves_nothing(tmp_path, capsys):
    """Item 9: a cell that raises (the table went missing) is one line; no executed notebook is left."""
    out = tmp_path / "nb" / "sp1_alpha.ipynb"
    code = main(
        [
            "notebook",
            str(REPO / "workflow" / "notebooks" / "sp1_alpha.ipynb"),
            str(out),
            "-p",
            "table",
            str(tmp_path / "gone.csv"),
            "-p",
            "out_pdf",
            str(tmp_path / "sp1.pdf"),
        ]
    )
    err = capsys.readouterr().err
    last = [ln for ln in err.splitlines() if ln.strip()][-1]
    assert code == 2 and last.startswith("iloco: error: ") and "gone.csv: file not found" in last
    assert "Traceback" not in err
    assert list(out.parent.iterdir()) == [] and not (tmp_path / "sp1.pdf").exists()


def test_failed_claim_removes_the_previous_pdf():
    """Item 12: the claims rule removes paper/main.pdf when a claim stops the build."""
    rules = (REPO / "workflow" / "rules" / "paper.smk").read_text()
    claims = rules.split("rule claims:")[1].split("\nrule ")[0]
    assert "rm -f paper/main.pdf" in claims and "exit 1" in claims


def test_config_key_json_roundtrip_of_strict_reader(tmp_path):
    """The strict reader reads JSON too (Snakemake accepts JSON config files)."""
    path = tmp_path / "c.json"
    path.write_text(json.dumps(TEST))
    assert core_config.load(path, device=False) == TEST
