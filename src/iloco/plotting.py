"""Figures: one seaborn style for the paper, and the plotting function of each figure.

Notebooks only load a table and call these, so the plotting logic is tested here.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("pdf")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from iloco.io import atomic_path  # noqa: E402

#: Width of the paper's text block in inches (article class, 1in margins ≈ 6.5in).
TEXT_WIDTH = 6.5


def style() -> None:
    """The paper's style: colour-blind palette, embedded TrueType fonts, no timestamps."""
    sns.set_theme(context="paper", style="whitegrid", palette="colorblind", font_scale=0.9)
    plt.rcParams.update({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "iloco", "axes.titlesize": 9})


def save(fig: plt.Figure, path: str | os.PathLike) -> None:
    """Save a figure atomically with fixed metadata, so a rebuild is byte-identical."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, bbox_inches="tight", metadata={"CreationDate": None, "Creator": "iloco", "Producer": "iloco"})
    plt.close(fig)


def sp1_alpha(table: pd.DataFrame, bp_within: float) -> plt.Figure:
    """SP1: distance of the GD limit to basis pursuit, to the min-ℓ2 interpolant and to x*,
    against the initialization scale α; one line per depth (median), bands over instances
    (10–90 % of instances); cells that did not reach the loss tolerance drawn as crosses."""
    style()
    t = table.copy()
    t["depth"] = "L = " + t["depth"].astype(str)
    floor = 1e-12
    panels = [
        ("dist_bp", r"$\|x_\infty - x_{\mathrm{BP}}\|_2 / \|x_{\mathrm{BP}}\|_2$", "to basis pursuit ($\\ell_1$)"),
        ("dist_l2", r"$\|x_\infty - x_{\ell_2}\|_2 / \|x_{\ell_2}\|_2$", "to min-$\\ell_2$ interpolant"),
        ("dist_xstar", r"$\|x_\infty - x^\star\|_2 / \|x^\star\|_2$", "to ground truth $x^\\star$"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 2.3), sharex=True)
    for ax, (col, ylabel, title) in zip(axes, panels, strict=True):
        t[col] = t[col].clip(lower=floor)
        sns.lineplot(
            data=t,
            x="alpha",
            y=col,
            hue="depth",
            estimator="median",
            errorbar=("pi", 80),
            marker="o",
            markersize=3,
            ax=ax,
            legend=ax is axes[0],
        )
        bad = t[t["status"] != "converged"]
        if len(bad):
            ax.scatter(
                bad["alpha"],
                bad[col],
                marker="x",
                color="0.3",
                s=12,
                lw=0.8,
                zorder=5,
                label="not converged" if ax is axes[0] else None,
            )
        ax.set(xscale="log", yscale="log", xlabel=r"initialization scale $\alpha$", ylabel=ylabel, title=title)
    axes[0].axhline(bp_within, color="0.5", ls=":", lw=0.8)
    per_inst = table.groupby("instance")[["bp_dist_xstar", "l2_dist_xstar"]].first().median()
    axes[2].axhline(per_inst["l2_dist_xstar"], color="0.3", ls="--", lw=0.8, label=r"min-$\ell_2$")
    if per_inst["bp_dist_xstar"] > 1e-6:
        axes[2].axhline(per_inst["bp_dist_xstar"], color="0.3", ls=":", lw=0.8, label="basis pursuit")
        axes[2].legend(fontsize=6, loc="lower right")
    else:
        axes[2].legend(fontsize=6, loc="lower right", title="basis pursuit: exact", title_fontsize=6)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    fig.legend(
        handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False, bbox_to_anchor=(0.5, -0.02)
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
