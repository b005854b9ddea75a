"""TeX helpers shared by every family's macros: numbers in LaTeX (``sci``, ``pct``), macro
definitions (``newcommand``), escaping and word lists. No number is typed into the paper:
every one is a macro written with these."""

from __future__ import annotations

import math

WORDS = {1: "One", 2: "Two", 3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven", 8: "Eight", 9: "Nine", 10: "Ten"}


def sci(x: float, digits: int = 2) -> str:
    """A number in LaTeX math with ``digits`` significant digits: 0.02 → 0.02, 0.0031 →
    3.1\\times 10^{-3}; exact powers of ten outside [0.01, 1000) as 10^{e}."""
    if math.isnan(x):
        return "n/a"
    if x == 0 or not math.isfinite(x):
        return r"\ensuremath{0}" if x == 0 else (r"\ensuremath{\infty}" if x > 0 else r"\ensuremath{-\infty}")
    e = math.floor(math.log10(abs(x)))
    mant = round(x / 10**e, digits - 1)
    if abs(mant) >= 10:
        mant, e = mant / 10, e + 1
    if -2 <= e <= 2:
        text = f"{mant * 10**e:.{max(digits - 1 - e, 0)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return rf"\ensuremath{{{text}}}"
    if mant == int(mant) == 1:
        return rf"\ensuremath{{10^{{{e}}}}}"
    return rf"\ensuremath{{{mant:.{digits - 1}f}\times 10^{{{e}}}}}"


def newcommand(name: str, value: str) -> str:
    return f"\\newcommand{{\\{name}}}{{{value}}}\n"


def pct(x: float) -> str:
    return f"{100 * x:.0f}\\,\\%"


def tex_escape(s: str) -> str:
    return "".join("\\" + c if c in "&%$#_{}" else c for c in s)


def words(items: list[str]) -> str:
    items = [str(i) for i in items]
    if len(items) < 3:
        return " and ".join(items)
    return ", ".join(items[:-1]) + f", and {items[-1]}"
