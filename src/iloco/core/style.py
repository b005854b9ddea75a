"""The figures' shared style (one seaborn theme, the text width, the bands) and the atomic,
byte-reproducible save. Each family's ``figures`` module draws its own figures with these."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("pdf")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from iloco.core.io import atomic_path  # noqa: E402

#: Width of the paper's text block in inches (article class, 1in margins ≈ 6.5in).
TEXT_WIDTH = 6.5


#: Bands of the figures: the central BAND_PI % of instances (10-90 % quantiles).
BAND_PI = 80


def style() -> None:
    """The paper's style: colour-blind palette, embedded TrueType fonts, no timestamps."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=0.9)
    plt.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "iloco", "axes.titlesize": 9})


def save(fig: plt.Figure, path: str | os.PathLike) -> None:
    """Save a figure atomically with fixed metadata, so a rebuild is byte-identical."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, bbox_inches="tight", metadata={"CreationDate": None, "Creator": "iloco", "Producer": "iloco"})
    plt.close(fig)
