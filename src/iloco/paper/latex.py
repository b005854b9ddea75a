"""The PDF build (latexmk, atomically) and the check that no number is typed into the text."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from iloco.core.errors import IlocoError
from iloco.core.io import atomic_path

TEX_PACKAGES = (
    "latexmk texlive-latex-base texlive-latex-recommended texlive-fonts-recommended "
    "texlive-pictures texlive-science lmodern"
)


#: What the hand-written .tex sources may contain as digits, each with its reason. Everything
#: else that looks like a number must be a macro from paper/generated/ (results, settings) or
#: paper/published.tex (values of the cited papers, each with its source).
TEX_ALLOWED = (
    (r"\\documentclass\[[^\]]*\]", "class options (font size)"),
    (r"[Dd]epths?[~ -]\d(?:\s*(?:and|,)\s*\d)*\b", "a model named by its depth"),
    (r"[Ff]igure~\d+\b", "a figure number of a cited paper"),
    (r"\b50\\,\\%", "the 50 % level that defines a phase transition"),
    (r"\\ln\(10\)", "an equation constant"),
    (r"\d+(?:\.\d+)?\s*\\(?:text|line|column)width", "a layout length"),
)


_TEX_STRIP = re.compile(
    r"\\(?:cite[tp]?|ref|eqref|label|input|include|includegraphics|bibliography|bibliographystyle"
    r"|usepackage|begin|end|graphicspath|url|texttt)\*?(?:\[[^\]]*\])*\{[^}]*\}"
)


_MATH = re.compile(r"\$[^$]*\$|\\\[.*?\\\]|\\begin\{(equation|align)\*?\}.*?\\end\{\1\*?\}", re.S)


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


def hand_typed_numbers(text: str) -> list[tuple[int, str]]:
    """(line, number) of every digit sequence in LaTeX ``text`` that looks like a result: not
    in a comment, a reference, a file name or :data:`TEX_ALLOWED`, and not a single digit in
    math mode (exponents, indices, equation constants)."""
    text = re.sub(r"(?<!\\)%.*", "", text)
    blank = lambda m: re.sub(r"[^\n]", " ", m.group())  # noqa: E731  (keeps line numbers and offsets)
    text = _TEX_STRIP.sub(blank, text)
    text = re.sub(r"(\\[A-Za-z]+)(?=\d)", r"\1 ", text)  # \le16 is \le then 16
    for pattern, _why in TEX_ALLOWED:
        text = re.sub(pattern, blank, text)
    math = [m.span() for m in _MATH.finditer(text)]
    out = []
    for m in _NUMBER.finditer(text):
        in_math = any(a <= m.start() < b for a, b in math)
        if in_math and len(m.group()) == 1:
            continue
        out.append((text.count("\n", 0, m.start()) + 1, m.group()))
    return out


_FILE_LINE_ERROR = re.compile(r"^(?!.*error style messages enabled)(\S+?\.\w+):(\d+): (.+)")


def latex_error(log_text: str) -> str:
    """The first error of a LaTeX log: a ``file:line: message`` line (-file-line-error), else a
    ``! message`` line. The banner 'file:line:error style messages enabled.' is not an error."""
    lines = log_text.splitlines()
    for ln in lines:
        m = _FILE_LINE_ERROR.match(ln)
        if m:
            return f"{m.group(1)}:{m.group(2)}: {m.group(3).strip()}"
    return next((ln.strip() for ln in lines if ln.startswith("!")), "no error line in the log")


def build_pdf(tex: str | os.PathLike, out: str | os.PathLike, workdir: str | os.PathLike) -> None:
    """Run latexmk on ``tex`` with auxiliary files in ``workdir``; move the PDF to ``out``.

    Dates are pinned (SOURCE_DATE_EPOCH) so the same sources give the same PDF bytes.
    """
    tex, out, workdir = Path(tex).resolve(), Path(out), Path(workdir).resolve()
    if shutil.which("latexmk") is None:
        raise IlocoError(f"latexmk not found: install TeX Live (Debian: apt-get install {TEX_PACKAGES})")
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    cmd = [
        "latexmk",
        "-pdf",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        f"-outdir={workdir}",
        tex.name,
    ]
    proc = subprocess.run(cmd, cwd=tex.parent, env=env, capture_output=True, text=True)
    log = workdir / (tex.stem + ".log")
    if proc.returncode != 0:
        first = latex_error(log.read_text(errors="replace") if log.exists() else "")
        raise IlocoError(f"latexmk failed on {tex} ({first}); full log: {log}")
    with atomic_path(out) as tmp:
        shutil.copyfile(workdir / (tex.stem + ".pdf"), tmp)
