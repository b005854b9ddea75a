"""The ID figures: ID1 recovery against N_h and the non-orthogonality, ID2 two-layer recovery,
ID3 chain and budget."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from iloco.core.style import TEXT_WIDTH, style
from iloco.ident import spec


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
    pub = spec.ID1_FORNASIER
    if int(rec["d"].iloc[0]) == pub["d"] and m == pub["m"]:  # the published outcome
        nh = (pub["from_nh"], rec["n_hessians"].max())
        ax.fill_between(nh, pub["low"], pub["high"], color="0.85", zorder=0, label="published")
        none = [rec["n_hessians"].min(), pub["none_up_to"]]
        ax.plot(none, [0, 0], color="0.6", lw=4, zorder=0, solid_capstyle="butt")
    sns.lineplot(data=rec, x="n_hessians", y="all found", hue=r"$\nu$", marker="o", markersize=3, errorbar=None, ax=ax)
    ax.axvline(m, color="0.3", lw=0.6, ls=":")
    ax.set(
        xlabel=r"Hessians $N_h$",
        ylabel="networks fully recovered",
        ylim=(-0.05, 1.05),
        title=f"(a) $d={int(rec['d'].iloc[0])}$, $m={m}$",
    )
    # lower right: right of N_h = m the curves sit at 1 (and the published band at ≥ 0.85)
    ax.legend(title=r"$\nu$", fontsize=5.5, title_fontsize=6, loc="lower right", handlelength=1.2, handletextpad=0.4)

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
    # lower right: at large noise every error is well above the smallest ones
    ax.legend(title="$h$", fontsize=5.5, title_fontsize=6, loc="lower right", handlelength=1.2, handletextpad=0.4)

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
    ticks = []  # the d values, but none within a factor 1.6 of the previous label (log axis)
    for v in q["d"]:
        if not ticks or v >= 1.6 * ticks[-1]:
            ticks.append(v)
    ax.set_xticks(ticks, [str(v) for v in ticks])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.legend(fontsize=6)
    return fig


def id2_two_layer(table: pd.DataFrame, regime: pd.DataFrame) -> plt.Figure:
    """ID2, three panels against N_h, one line per widths (m0, m1): (a) first-layer weights
    recovered, (b) entangled weights recovered, (c) the distance of the estimated span from the
    model's span W (the evaluator's diagnostic of why recovery is partial); (d) the regime map:
    span completeness against the drift of v_ℓ(x) as the radius grows (``id2_regime``)."""
    style()
    t = table.copy()
    t["widths"] = [f"({a},{b})" for a, b in zip(t["m0"], t["m1"], strict=True)]
    fig, axes = plt.subplots(1, 4, figsize=(TEXT_WIDTH, 2.1), constrained_layout=True)
    panels = (
        ("first_frac", "first-layer weights found", "(a) first layer $a_i$"),
        ("entangled_frac", "entangled weights found", r"(b) entangled $v_\ell$"),
        ("span_error", r"$\sin\angle(\hat W, W)$", "(c) span estimate"),
    )
    for ax, (col, ylabel, title) in zip(axes[:3], panels, strict=True):
        sns.lineplot(
            data=t,
            x="n_hessians",
            y=col,
            hue="widths",
            marker="o",
            markersize=3,
            errorbar=None,
            ax=ax,
            legend=col == "first_frac",
        )
        ax.set(xlabel=r"Hessians $N_h$", ylabel=ylabel, ylim=(-0.05, 1.05), title=title)
    axes[0].legend(title="$(m_0,m_1)$", fontsize=6, title_fontsize=6)
    id2_regime(regime, axes[3])
    axes[3].set_title("(d) regime map")
    fig.suptitle(f"(a)-(c): $d={int(t['d'].iloc[0])}$, Hessian points at radius {t['radius'].iloc[0]:g}", fontsize=8)
    return fig


def id3_chain(chain: pd.DataFrame, budget: pd.DataFrame) -> plt.Figure:
    """ID3, four panels: (a) width identified in each trained student against the teacher's,
    per init scale; (b) the compact network's error against the student it replaces,
    identification vs the Adam baseline on the same queries; (c, d) on networks of known
    width, weights recovered and uniform error against the query budget, both methods."""
    style()
    fig, axes = plt.subplots(1, 4, figsize=(TEXT_WIDTH, 2.2), constrained_layout=True)
    ch = chain.copy()
    ch["init"] = ch["init_scale"].map(lambda v: f"{v:g}")
    ch["method"] = ch["method"].map({"identification": "identification", "adam": "Adam"})
    ident = ch[ch["method"] == "identification"]
    ax = axes[0]
    # swarms, not jittered strips: the point layout is deterministic, so rebuilt PDFs are identical
    sns.swarmplot(data=ident, x="init", y="width", ax=ax, size=4, color="C0")
    ax.axhline(int(ch["teacher_width"].iloc[0]), color="0.3", ls=":", lw=0.8, label="teacher width")
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(
        xlabel="student init scale",
        ylabel="identified width",
        title=f"(a) students of width {int(ch['student_width'].iloc[0])}",
    )
    ax.legend(fontsize=6)
    ax = axes[1]
    sns.swarmplot(data=ch, x="init", y="vs_student_mean", hue="method", dodge=True, size=3, ax=ax)
    ax.set(
        yscale="log", xlabel="student init scale", ylabel=r"$\|f_{\rm compact}-f_{\rm student}\|/\|f_{\rm student}\|$"
    )
    ax.set_title("(b) compact vs trained")
    ax.legend(fontsize=6)
    bu = budget.copy()
    bu["method"] = bu["method"].map({"identification": "identification", "adam": "Adam"})
    bu["found / m"] = bu["recovered"] / bu["m"]
    ax = axes[2]
    sns.lineplot(data=bu, x="queries", y="found / m", hue="method", marker="o", markersize=3, errorbar=None, ax=ax)
    ax.set(
        xlabel="queries", ylabel="weights recovered / m", ylim=(-0.05, 1.05), title=f"(c) $d=m={int(bu['m'].iloc[0])}$"
    )
    ax.legend(fontsize=6)
    ax = axes[3]
    sns.lineplot(
        data=bu,
        x="queries",
        y="uniform_rel_err",
        hue="method",
        estimator="median",
        marker="o",
        markersize=3,
        errorbar=None,
        ax=ax,
    )
    ax.set(yscale="log", xlabel="queries", ylabel="uniform rel. error", title="(d) same budget")
    ax.legend(fontsize=6)
    return fig


def id2_regime(table: pd.DataFrame, ax=None):
    """Completeness of the estimated span (fraction of its m0 + m1 principal angles to W₀ within
    the matching angle) against the drift max ∠(v_ℓ(x), v_ℓ(0)) as the radius grows, one line per
    d × (m1 = 1 | m1 ≥ 2), medians over networks and widths, at the smallest shift scale; the
    marker size grows with the radius. Returns the axes (a figure panel)."""
    style()
    if ax is None:
        _, ax = plt.subplots(figsize=(TEXT_WIDTH / 3, 2.1), constrained_layout=True)
    t = table[table["theta_scale"] == table["theta_scale"].min()].copy()
    t["entangled"] = np.where(t["m1"] == 1, "$m_1=1$", r"$m_1\geq2$")
    med = t.groupby(["d", "entangled", "radius"], sort=True)[["completeness", "drift_v"]].median().reset_index()
    for i, ((d, ent), g) in enumerate(med.groupby(["d", "entangled"], sort=True)):
        g = g.sort_values("radius")
        ls = "-" if ent == "$m_1=1$" else "--"
        ax.plot(
            g["drift_v"].clip(lower=1e-6), g["completeness"], ls, color=f"C{i // 2}", lw=0.9, label=f"$d={d}$, {ent}"
        )
        ax.scatter(
            g["drift_v"].clip(lower=1e-6), g["completeness"], s=4 + 6 * np.arange(len(g)), color=f"C{i // 2}", zorder=3
        )
    ax.set(
        xscale="log",
        xlabel=r"drift $\max_{x,\ell}\angle(v_\ell(x), v_\ell(0))$",
        ylabel="span completeness",
        ylim=(-0.05, 1.05),
        title=f"ID2 regime ($\\theta$-scale {t['theta_scale'].iloc[0]:g})",
    )
    ax.legend(fontsize=5)
    return ax
