"""The package's layout: one folder per family, declarations read by the workflow, digests that
cover every module a job runs."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from iloco.core import family, provenance

from .conftest import REPO

SRC = REPO / "src" / "iloco"


def _notebook_imports(path: Path) -> set[str]:
    """The iloco sub-packages a notebook imports."""
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return set(re.findall(r"from iloco\.(\w+)", code)) | set(re.findall(r"import iloco\.(\w+)", code))


def _rule_files() -> dict[str, str]:
    return {p.name: p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk")}


def test_every_figure_notebook_runs_only_code_its_digest_covers():
    """A figure rule digests ``code(<family>)`` = core + that family: its notebook may import
    nothing else, so no module it runs can change without re-running it."""
    rules = "\n".join(_rule_files().values())
    for fam in family.families():
        for stem in fam.figures:
            nb = REPO / "workflow" / "notebooks" / f"{stem}.ipynb"
            if not nb.exists():  # ID2 and ID3 share one notebook
                (nb,) = [p for p in (REPO / "workflow" / "notebooks").glob("*.ipynb") if stem in p.read_text()]
            assert _notebook_imports(nb) <= {"core", fam.name}, nb.name
        assert f'code("{fam.name}")' in rules


def test_every_code_digest_in_the_rules_is_derived():
    """No rule lists modules by hand: every digest is ``code(...)`` of whole packages."""
    for name, text in _rule_files().items():
        if name != "common.smk":
            assert "code_digest(" not in text, name


def test_code_digest_covers_every_module_of_a_package(tmp_path, monkeypatch):
    fake = tmp_path / "iloco"
    (fake / "core").mkdir(parents=True)
    (fake / "sp").mkdir()
    (fake / "core" / "a.py").write_text("x = 1\n")
    (fake / "sp" / "deep.py").write_text("y = 1\n")
    monkeypatch.setattr(provenance, "PACKAGE", fake)
    before = provenance.code_digest("core", "sp")
    (fake / "sp" / "deep.py").write_text("y = 2\n")
    assert provenance.code_digest("core", "sp") != before
    assert provenance.code_digest("core") == provenance.code_digest("core")
    with pytest.raises(ValueError, match="no package iloco.nope"):
        provenance.code_digest("nope")


def test_families_declare_figures_tables_and_jobs_once():
    figures = family.figures()
    assert len(figures) == sum(len(f.figures) for f in family.families())  # no stem declared twice
    for stem in figures:
        assert (REPO / "workflow" / "report" / f"{stem}.rst").exists() or stem.startswith("lr"), stem
    tables = family.tables()
    assert all(path.startswith("results/") and path.endswith(".csv") for path in tables.values())
    assert [f.name for f in family.families()] == list(family.NAMES)


def test_declarations_are_torch_free():
    """The Snakefile imports the specs when it parses: they must not load torch."""
    for name in family.NAMES:
        tree = ast.parse((SRC / name / "spec.py").read_text())
        mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(m and m.startswith("torch") for m in mods), name


def test_no_module_over_600_lines_and_long_functions_say_why():
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 600, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 85:  # "about 80"
                assert "One function on purpose" in (ast.get_docstring(node) or ""), f"{path}:{node.name}"


def test_every_rule_that_declares_the_gpu_goes_to_the_gpu_partition_on_slurm():
    """The SLURM profile lists its GPU rules by name (a profile cannot read the workflow):
    every rule that declares the ``gpu`` resource must be there."""
    import yaml

    gpu_rules = set()
    for text in _rule_files().values():
        for block in re.split(r"\n(?=rule )", text):
            name = re.match(r"rule (\w+):", block)
            if name and re.search(r"^\s+gpu=", block, re.M):
                gpu_rules.add(name.group(1))
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert gpu_rules and gpu_rules <= set(profile["set-resources"]), gpu_rules - set(profile["set-resources"])
