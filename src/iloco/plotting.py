"""Figures: one seaborn style for the paper, and the plotting function of each figure.

Notebooks only load a table and call these, so the plotting logic is tested here.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("pdf")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
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


def id1_identification(tables: dict[str, pd.DataFrame]) -> plt.Figure:
    """ID1, four panels: (a) recovery vs N_h per non-orthogonality with the published anchor,
    (b) uniform error vs query noise per step h, (c) the wide regime m > d (what the evaluator
    finds and what the method claims), (d) queries used vs d against the count formula."""
    style()
    fig, axes = plt.subplots(1, 4, figsize=(TEXT_WIDTH, 2.2), constrained_layout=True)
    ax = axes[0]
    rec = tables["recovery"].copy()
    m = int(rec["m"].iloc[0])
    rec["all found"] = rec["complete"].astype(float)
    rec[r"$\nu$"] = rec["nonortho"].map(lambda v: f"{v:g}")
    if int(rec["d"].iloc[0]) == 20 and m == 20:  # the published outcome for d = m = 20
        ax.fill_between([20, rec["n_hessians"].max()], 0.85, 1.0, color="0.85", zorder=0, label="published")
        ax.plot([rec["n_hessians"].min(), 16], [0, 0], color="0.6", lw=4, zorder=0, solid_capstyle="butt")
    sns.lineplot(data=rec, x="n_hessians", y="all found", hue=r"$\nu$", marker="o", markersize=3, errorbar=None, ax=ax)
    ax.axvline(m, color="0.3", lw=0.6, ls=":")
    ax.set(
        xlabel=r"Hessians $N_h$",
        ylabel="networks fully recovered",
        ylim=(-0.05, 1.05),
        title=f"(a) $d={int(rec['d'].iloc[0])}$, $m={m}$",
    )
    ax.legend(title=r"$\nu$", fontsize=6, title_fontsize=6, loc="center right")

    ax = axes[1]
    noi = tables["noise"].copy()
    floor = noi.loc[noi["noise"] > 0, "noise"].min() / 10 if (noi["noise"] > 0).any() else 1e-12
    noi["sigma"] = noi["noise"].clip(lower=floor)
    noi["h"] = noi["h"].map(lambda v: f"{v:g}")
    sns.lineplot(
        data=noi,
        x="sigma",
        y="uniform_rel_err",
        hue="h",
        estimator="median",
        errorbar=None,
        marker="o",
        markersize=3,
        ax=ax,
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=r"query noise $\sigma$ (leftmost: 0)",
        ylabel="uniform rel. error",
        title=f"(b) noise, $N_h={int(noi['n_hessians'].iloc[0])}$",
    )
    ax.legend(title="$h$", fontsize=6, title_fontsize=6)

    ax = axes[2]
    wide = tables["wide"].copy()
    d = int(wide["d"].iloc[0])
    wide["ratio"] = wide["m"] / d
    g = wide.groupby("ratio", as_index=False)[["complete", "claimed_complete"]].mean()
    g["recovered"] = wide.groupby("ratio")["recovered"].mean().values / (g["ratio"] * d)
    ax.plot(g["ratio"], g["complete"], "o-", ms=3, label="all found")
    ax.plot(g["ratio"], g["claimed_complete"], "s--", ms=3, label="claimed")
    ax.plot(g["ratio"], g["recovered"], "^:", ms=3, label="found / m")
    ax.set(xlabel=r"width ratio $m/d$", ylabel="fraction", ylim=(-0.05, 1.05), title=f"(c) wide, $d={d}$")
    ax.legend(fontsize=6)

    ax = axes[3]
    q = tables["queries"].groupby("d", as_index=False)["queries"].mean()
    ax.plot(q["d"], q["queries"], "o", ms=4, label="used")
    ref = q["d"].astype(float) ** 3
    ax.plot(q["d"], ref * q["queries"].iloc[-1] / ref.iloc[-1], "--", color="0.5", lw=0.8, label=r"$\propto d^3$")
    ax.set(xscale="log", yscale="log", xlabel="$d$ ($m=d$)", ylabel="queries", title="(d) queries")
    ax.set_xticks(q["d"], [str(v) for v in q["d"]])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.legend(fontsize=6)
    return fig


def _depth_label(n) -> str:
    return "N = ∞" if n == float("inf") else f"N = {int(n)}"


def lr1_completion(tables: dict[str, pd.DataFrame], recover_within: float) -> plt.Figure:
    """LR1: relative test error against the number of observations, per depth (median over
    instances, band 10–90 %) with the nuclear-norm minimizer on the same instances, for
    completion and sensing; and the effective rank of the completion solutions."""
    style()
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 2.4), constrained_layout=True)
    palette = dict(
        zip(["nuclear norm"] + [f"N = {n}" for n in range(1, 9)], ["0.15"] + sns.color_palette(), strict=False)
    )
    for ax, task, col, title in (
        (axes[0], "completion", "rel_error", "(a) completion"),
        (axes[1], "sensing", "rel_error", "(b) sensing"),
        (axes[2], "completion", "effective_rank", "(c) eff. rank"),
    ):
        t = tables[task].copy()
        t["method"] = [
            "nuclear norm" if m == "nuclear" else _depth_label(n) for m, n in zip(t["method"], t["depth"], strict=True)
        ]
        alphas = sorted(t["alpha"].dropna().unique())
        t = t[(t["method"] == "nuclear norm") | (t["alpha"] == alphas[0])]
        if col == "rel_error":
            t[col] = t[col].clip(lower=1e-4)
        sns.lineplot(
            data=t,
            x="observations",
            y=col,
            hue="method",
            style=(t["method"] == "nuclear norm").map({True: "convex", False: "GD"}),
            style_order=["GD", "convex"],
            estimator="median",
            errorbar=("pi", 80),
            marker="o",
            markersize=3,
            palette=palette,
            ax=ax,
            legend=ax is axes[0],
        )
        first = t.iloc[0]
        if col == "rel_error":
            ax.axhline(recover_within, color="0.5", ls=":", lw=0.8)
            ax.set(yscale="log", ylabel=r"$\|W - W^\star\|_F / \|W^\star\|_F$")
        else:
            ax.axhline(int(first["rank"]), color="0.5", ls=":", lw=0.8)
            ax.set(ylabel="effective rank")
        ax.set(xlabel="observations $m$", title=f"{title}, $d={int(first['d'])}$, $r={int(first['rank'])}$")
        ax.title.set_fontsize(8)
    handles, labels = axes[0].get_legend_handles_labels()
    keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if lab not in ("method", "style", "GD", "convex")]
    axes[0].get_legend().remove()
    fig.legend(*zip(*keep, strict=True), loc="outside lower center", ncol=len(keep), fontsize=7, frameon=False)
    return fig


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
    of the flow's limit against the depth, up to N = ∞ (one line per instance, median bold)."""
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
        for (_, _), g in depths.groupby(["instance", "observations"]):
            g = g.sort_values("depth")
            ax.plot([pos[n] for n in g["depth"]], g[col], color="0.7", lw=0.7)
        med = depths.groupby("depth")[col].median()
        ax.plot([pos[n] for n in med.index], med.values, "o-", color="C0", ms=3, label="median")
        ax.set_xticks(range(len(order)), ["∞" if n == float("inf") else str(int(n)) for n in order])
        ax.set(xlabel="depth $N$", ylabel=col.replace("_", " "), title=title)
    axes[1].set_yscale("log")
    return fig
