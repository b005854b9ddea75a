"""Style gates: ruff, snakefmt and `snakemake --lint` must stay clean."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import BIN, REPO, workflow_env


@pytest.mark.parametrize(
    "cmd",
    [
        ["ruff", "check", "src", "tests"],
        ["ruff", "format", "--check", "src", "tests"],
        ["snakefmt", "--check", "Snakefile", "workflow/rules"],
        ["snakemake", "--lint"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_clean(cmd):
    proc = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], cwd=REPO, env=workflow_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    if cmd[0] == "snakemake":
        assert "Lints for" not in proc.stdout + proc.stderr
