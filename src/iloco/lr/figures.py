"""The LR figures: LR1 error against observations per depth and method with the nuclear norm,
LR2 dynamics, LR3 flows up to infinite depth."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from iloco.core.style import BAND_PI, TEXT_WIDTH, style
from iloco.lr.macros import at_published_size
from iloco.lr.spec import LR1_ARORA


def _depth_label(n) -> str:
    return "N = ∞" if n == float("inf") else f"N = {int(n)}"


#: LR1 line styles: the optimizer (and the convex baseline), one colour per depth.
LR1_STYLE = {"GD": ("", "o"), "RMSprop": ((1.5, 1.2), "^"), "convex": ((4, 1.5), "o")}


def lr1_completion(tables: dict[str, pd.DataFrame], recover_within: float) -> plt.Figure:
    """LR1: relative test error against the number of observations, per depth (median over
    instances, band 10–90 %) and optimizer (GD solid, normalized RMSprop dotted), with the
    nuclear-norm minimizer on the same instances (dashed), for completion and sensing; and
    the effective rank of the completion solutions."""
    style()
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 2.4), constrained_layout=True)
    palette = dict(
        zip(["nuclear norm"] + [f"N = {n}" for n in range(1, 9)], ["0.15"] + sns.color_palette(), strict=False)
    )
    optimizer = {"nuclear": "convex", "gd": "GD", "rmsprop": "RMSprop"}
    for ax, task, col, title in (
        (axes[0], "completion", "rel_error", "(a) completion"),
        (axes[1], "sensing", "rel_error", "(b) sensing"),
        (axes[2], "completion", "effective_rank", "(c) eff. rank"),
    ):
        t = tables[task].copy()
        t["optimizer"] = t["method"].map(optimizer)
        t["method"] = [
            "nuclear norm" if m == "nuclear" else _depth_label(n) for m, n in zip(t["method"], t["depth"], strict=True)
        ]
        alphas = sorted(t["alpha"].dropna().unique())
        t = t[(t["method"] == "nuclear norm") | (t["alpha"] == alphas[0])]
        if col == "rel_error":
            t[col] = t[col].clip(lower=1e-4)
        order = [k for k in LR1_STYLE if k in set(t["optimizer"])]
        sns.lineplot(
            data=t,
            x="observations",
            y=col,
            hue="method",
            style="optimizer",
            style_order=order,
            dashes={k: LR1_STYLE[k][0] for k in order},
            markers={k: LR1_STYLE[k][1] for k in order},
            estimator="median",
            errorbar=("pi", BAND_PI),
            markersize=3,
            palette=palette,
            ax=ax,
            legend=ax is axes[0],
        )
        first = t.iloc[0]
        if col == "rel_error":
            ax.axhline(recover_within, color="0.5", ls=":", lw=0.8)
            _published_counts(ax, task, first)
            ax.set(yscale="log", ylabel=r"$\|W - W^\star\|_F / \|W^\star\|_F$")
        else:
            ax.axhline(int(first["rank"]), color="0.5", ls=":", lw=0.8)
            ax.set(ylabel="effective rank")
        ax.set(xlabel="observations $m$", title=f"{title}, $d={int(first['d'])}$, $r={int(first['rank'])}$")
        ax.title.set_fontsize(8)
    handles, labels = axes[0].get_legend_handles_labels()
    # colours name the depths; the line style names the optimizer when there is more than one
    drop = {"method", "optimizer", "convex"} | ({"GD", "RMSprop"} if len(order) <= 2 else set())
    keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab not in drop]
    axes[0].get_legend().remove()
    fig.legend(*zip(*keep, strict=True), loc="outside lower center", ncol=len(keep), fontsize=7, frameon=False)
    return fig


def _published_counts(ax: plt.Axes, task: str, first: pd.Series) -> None:
    """At Arora et al.'s completion size, grey lines at their two observation counts, labelled
    with what recovers there in their paper (depth ≥ 3 only; all)."""
    if task != "completion" or not at_published_size(first):
        return
    for m, who in ((LR1_ARORA["low_obs"], "pub.: N ≥ 3"), (LR1_ARORA["high_obs"], "pub.: all")):
        ax.axvline(m, color="0.6", ls="-.", lw=0.7, zorder=0)
        ax.text(
            m,
            0.03,
            who,
            transform=ax.get_xaxis_transform(),
            ha="right",
            va="bottom",
            rotation=90,
            fontsize=5,
            color="0.35",
        )


def lr2_dynamics(table: pd.DataFrame) -> plt.Figure:
    """LR2: (a) leading singular values of the product against GD steps on the completion
    instance (deepest depth solid, depth 2 dashed); (b) effective rank along the path per
    depth; (c) fully observed target: the closest the path comes to each best rank-k
    approximation, against the gap σ_k/‖W*‖_F between consecutive ones."""
    style()
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 2.3), constrained_layout=True)
    comp = table[table["setting"] == "completion"]
    depths = sorted(comp["depth"].unique())
    svs = [c for c in comp.columns if c.startswith("sv")]
    rank = int(comp["rank"].iloc[0]) if "rank" in comp else 4
    ax = axes[0]
    colors = sns.color_palette(n_colors=min(len(svs), rank + 2))
    for n, ls in ((depths[-1], "-"), (2, "--")):
        g = comp[comp["depth"] == n]
        if g.empty:
            continue
        for k, c in enumerate(colors):
            ax.plot(g["step"].clip(lower=1), g[f"sv{k + 1}"], ls=ls, color=c, lw=1)
    ax.plot([], [], "-", color="0.3", label=_depth_label(depths[-1]))
    ax.plot([], [], "--", color="0.3", label="N = 2")
    ax.set(
        xscale="log", yscale="log", xlabel="GD step", ylabel=r"singular values $\sigma_k(W)$", title="(a) completion"
    )
    ax.legend(fontsize=6)
    ax = axes[1]
    c = comp.assign(depth=comp["depth"].map(_depth_label), step=comp["step"].clip(lower=1))
    sns.lineplot(data=c, x="step", y="effective_rank", hue="depth", ax=ax, lw=1)
    ax.set(xscale="log", xlabel="GD step", ylabel="effective rank", title="(b) along the path")
    ax.legend(fontsize=6, title=None)
    ax = axes[2]
    spec = table[table["setting"] == "spectrum"]
    ks = sorted(int(col.removeprefix("dist_rank")) for col in spec.columns if col.startswith("dist_rank"))
    ks = [k for k in ks if k > 0]
    for n, g in spec.groupby("depth"):
        ax.plot(ks, [g[f"dist_rank{k}"].min() for k in ks], "o-", ms=3, label=_depth_label(n))
    last = spec[spec["step"] == spec["step"].max()].iloc[0]
    total = np.sqrt(sum(last[s] ** 2 for s in svs))  # ≈ ‖W*‖_F at convergence (leading values)
    ax.plot(ks, [last[f"sv{k}"] / total for k in ks], "k:", lw=0.8, label=r"$\sigma_k/\|W^\star\|_F$")
    ax.set(
        yscale="log", xlabel="rank $k$", ylabel=r"$\min_t \|W(t)-W^\star_k\|_F/\|W^\star\|_F$", title="(c) full obs."
    )
    ax.legend(fontsize=6)
    return fig


def lr3_flow(depths: pd.DataFrame, gd: pd.DataFrame) -> plt.Figure:
    """LR3: (a) largest gap between factorized GD and the end-to-end flow along the path
    against the step, per depth, with a slope-one guide; (b) test error and (c) effective rank
    of the flow's limit against the depth, up to N = ∞ (one thin line per instance, the median per
    observation count bold: at paper scale the counts behave differently)."""
    style()
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 2.3), constrained_layout=True)
    ax = axes[0]
    for n, g in gd.groupby("depth"):
        ax.plot(g["lr"], g["max_gap"], "o-", ms=3, label=_depth_label(n))
    lo, hi = gd["lr"].min(), gd["lr"].max()
    ref = gd.loc[gd["lr"] == hi, "max_gap"].max()
    ax.plot([lo, hi], [ref * lo / hi, ref], "k:", lw=0.8, label="slope 1")
    ax.set(xscale="log", yscale="log", xlabel="step (fraction lr)", ylabel="max gap GD vs flow", title="(a) GD follows")
    lrs = sorted(gd["lr"].unique())
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(lrs, [f"{v:g}" for v in lrs])
    ax.legend(fontsize=6)
    order = sorted(depths["depth"].unique())
    pos = {n: i for i, n in enumerate(order)}
    for ax, col, title in ((axes[1], "rel_error", "(b) test error"), (axes[2], "effective_rank", "(c) effective rank")):
        for i, (m, by_m) in enumerate(depths.groupby("observations")):  # one median per count: they differ
            for _, g in by_m.groupby("instance"):
                g = g.sort_values("depth")
                ax.plot([pos[n] for n in g["depth"]], g[col], color=f"C{i}", alpha=0.25, lw=0.7)
            med = by_m.groupby("depth")[col].median()
            ax.plot([pos[n] for n in med.index], med.values, "o-", color=f"C{i}", ms=3, label=f"median, m = {m}")
        ax.set_xticks(range(len(order)), ["∞" if n == float("inf") else str(int(n)) for n in order])
        ax.set(xlabel="depth $N$", ylabel=col.replace("_", " "), title=title)
    axes[1].set_yscale("log")
    axes[1].legend(fontsize=6)
    return fig
