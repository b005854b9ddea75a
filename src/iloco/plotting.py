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

from iloco import published  # noqa: E402
from iloco.io import atomic_path  # noqa: E402

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
            errorbar=("pi", BAND_PI),
            marker="o",
            markersize=3,
            ax=ax,
            legend=ax is axes[0],
        )
        qcol = {"dist_bp": "q_dist_bp", "dist_l2": "q_dist_l2", "dist_xstar": "q_dist_xstar"}[col]
        if qcol in t.columns and t[qcol].notna().any():
            q = t.groupby(["depth", "alpha"], as_index=False)[qcol].median()
            q[qcol] = q[qcol].clip(lower=floor)
            for i, (_, g) in enumerate(q.groupby("depth")):
                ax.plot(
                    g["alpha"],
                    g[qcol],
                    color="k",
                    ls=(0, (2, 1.5)),
                    lw=0.8,
                    zorder=6,
                    label=r"$\min Q_\alpha$ s.t. $Ax=y$" if ax is axes[0] and i == 0 else None,
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
    pub = published.ID1_FORNASIER
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


def id2_two_layer(table: pd.DataFrame) -> plt.Figure:
    """ID2, three panels against N_h, one line per widths (m0, m1): (a) first-layer weights
    recovered, (b) entangled weights recovered, (c) the distance of the estimated span from the
    model's span W (the evaluator's diagnostic of why recovery is partial)."""
    style()
    t = table.copy()
    t["widths"] = [f"({a},{b})" for a, b in zip(t["m0"], t["m1"], strict=True)]
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 2.1), constrained_layout=True)
    panels = (
        ("first_frac", "first-layer weights found", "(a) first layer $a_i$"),
        ("entangled_frac", "entangled weights found", r"(b) entangled $v_\ell$"),
        ("span_error", r"$\sin\angle(\hat W, W)$", "(c) span estimate"),
    )
    for ax, (col, ylabel, title) in zip(axes, panels, strict=True):
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
    fig.suptitle(f"$d={int(t['d'].iloc[0])}$, Hessian points at radius {t['radius'].iloc[0]:g}", fontsize=8)
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


def nl1_separable(table: pd.DataFrame) -> plt.Figure:
    """NL1, six panels against the GD step t. Linear model, one line per data set and loss:
    (a) the loss with a 1/t reference, (b) ‖w(t)‖ with the predicted growth ‖ŵ‖·ln t (through
    the last point), (c) the angle to the SVM direction, (d) the normalized margin over the
    SVM's. Homogeneous networks on random data: (e) deep linear networks, margin of the
    end-to-end vector over the SVM's; (f) two-layer ReLU, normalized margin min y f / ‖θ‖²."""
    style()
    t = table.copy()
    t["run"] = t["data"] + " / " + t["loss_fn"]
    lin = t[t["model"] == "linear"]
    sub = lin[lin["instance"] == 0]
    fig, axes = plt.subplots(2, 3, figsize=(TEXT_WIDTH, 3.9), constrained_layout=True)
    axes = axes.ravel()
    ax = axes[0]
    sns.lineplot(data=sub, x="t", y="loss", hue="run", ax=ax, errorbar=None)
    ref = sub[sub["run"] == sub["run"].iloc[0]]
    tt = ref["t"].to_numpy(dtype=float)
    ax.plot(tt, ref["loss"].iloc[-1] * tt[-1] / tt, "k:", lw=0.8, label=r"$\propto 1/t$")
    ax.set(xscale="log", yscale="log", xlabel="step $t$", ylabel="loss", title="(a) loss, linear model")
    ax.legend(fontsize=5)
    ax = axes[1]
    sns.lineplot(data=sub, x="t", y="w_norm", hue="run", ax=ax, errorbar=None, legend=False)
    for _, g in sub.groupby("run"):
        g = g.sort_values("t")
        tt = g["t"].to_numpy(dtype=float)
        pred = g["w_norm"].iloc[-1] + g["svm_norm"].iloc[0] * (np.log(tt) - np.log(tt[-1]))
        ax.plot(tt, pred, "k:", lw=0.6)
    ax.set(xscale="log", xlabel="step $t$", ylabel=r"$\|w(t)\|$", title=r"(b) norm vs $\|\hat w\|\ln t$")
    ax.set_ylim(bottom=0)
    ax = axes[2]
    sns.lineplot(data=lin, x="t", y="angle", hue="run", ax=ax, errorbar=None, legend=False)
    ax.set(xscale="log", yscale="log", xlabel="step $t$", ylabel="angle to SVM (rad)", title="(c) direction")
    ax = axes[3]
    lin = lin.assign(ratio=lin["margin"] / lin["svm_margin"])
    sns.lineplot(data=lin, x="t", y="ratio", hue="run", ax=ax, errorbar=None, legend=False)
    ax.axhline(1.0, color="0.3", ls=":", lw=0.8)
    ax.set(xscale="log", xlabel="step $t$", ylabel="margin / SVM margin", title="(d) normalized margin")
    ax.set_ylim(-0.05, 1.05)
    deep = t[t["model"].str.startswith("linear") & (t["model"] != "linear")]
    ax = axes[4]
    if len(deep):
        deep = deep.assign(ratio=deep["margin"] / deep["svm_margin"])
        sns.lineplot(data=deep, x="t", y="ratio", hue="model", style="loss_fn", ax=ax, errorbar=None)
        ax.legend(fontsize=5)
    ax.axhline(1.0, color="0.3", ls=":", lw=0.8)
    ax.set(xscale="log", xlabel="step $t$", ylabel="end-to-end margin / SVM", title="(e) deep linear")
    ax.set_ylim(-0.05, 1.05)
    relu = t[t["model"] == "relu2"]
    ax = axes[5]
    if len(relu):
        sns.lineplot(data=relu, x="t", y="param_margin", hue="instance", style="loss_fn", ax=ax, errorbar=None)
        ax.legend(fontsize=5)
    ax.set(xscale="log", xlabel="step $t$", ylabel=r"$\min_n y_nf(x_n)/\|\theta\|^2$", title="(f) two-layer ReLU")
    ax.set_ylim(bottom=min(0.0, float(relu["param_margin"].max()) if len(relu) else 0.0))
    return fig


def nl2_rich_lazy(teacher: pd.DataFrame, digits: pd.DataFrame) -> plt.Figure:
    """NL2, four panels: on teacher data against the init scale, (a) effective rank of the
    first layer and number of neuron directions, (b) relative movement of the first layer and
    test error; on digits, (c) singular values of the hidden-to-hidden layer W2 per init
    scale, (d) test accuracy after truncating W1 and W2 to rank k against the parameters kept."""
    style()
    fig, axes = plt.subplots(1, 4, figsize=(TEXT_WIDTH, 2.2), constrained_layout=True)
    med = teacher.groupby("init_scale", as_index=False)[
        ["effective_rank", "directions", "rel_change", "test_rel_mse"]
    ].median()
    ax = axes[0]
    ax.plot(med["init_scale"], med["effective_rank"], "o-", ms=3, label="effective rank")
    ax.plot(med["init_scale"], med["directions"], "s--", ms=3, label="neuron directions")
    ax.axhline(int(teacher["teacher_width"].iloc[0]), color="0.3", ls=":", lw=0.8, label="teacher width")
    ax.set(xscale="log", yscale="log", xlabel="init scale", title=f"(a) width {int(teacher['width'].iloc[0])}")
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=5)
    ax = axes[1]
    ax.plot(med["init_scale"], med["rel_change"], "o-", ms=3, label=r"$\|W-W_0\|/\|W_0\|$")
    ax.plot(med["init_scale"], med["test_rel_mse"], "s--", ms=3, label="test rel. MSE")
    ax.set(xscale="log", yscale="log", xlabel="init scale", title="(b) movement, test error")
    ax.legend(fontsize=5)
    spec = digits[digits["kind"] == "spectrum_W2"].copy()
    spec["init"] = spec["init_scale"].map(lambda v: f"{v:g}")
    ax = axes[2]
    sns.lineplot(data=spec, x="rank", y="sigma", hue="init", errorbar=None, ax=ax)
    ax.set(yscale="log", xlabel="index", ylabel="singular value", title="(c) digits: spectrum of $W_2$")
    ax.legend(title="init", fontsize=5, title_fontsize=5)
    tr = digits[digits["kind"] == "truncation"].copy()
    tr["init"] = tr["init_scale"].map(lambda v: f"{v:g}")
    ax = axes[3]
    sns.lineplot(data=tr, x="params_kept", y="accuracy", hue="init", marker="o", markersize=3, errorbar=None, ax=ax)
    ax.set(xscale="log", xlabel="parameters kept", ylabel="test accuracy", title="(d) rank-$k$ truncation")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(title="init", fontsize=5, title_fontsize=5)
    return fig


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


def sp2_phase(table: pd.DataFrame, theory: pd.DataFrame) -> plt.Figure:
    """SP2: probability of exact recovery over (δ, ρ) for basis pursuit and GD on the diagonal
    network (one heatmap per method), the empirical 50 % contour of each, and the theoretical
    ℓ1 curve ρ(δ) of the statistical dimension (``theory``: columns delta, rho) on top."""
    import numpy as np

    style()
    methods = ["bp"] + sorted(m for m in table["method"].unique() if m.startswith("gd"))
    names = {"bp": "basis pursuit (LP)"}
    fig, axes = plt.subplots(1, len(methods), figsize=(TEXT_WIDTH, 2.4), sharey=True, constrained_layout=True)
    prob = table.groupby(["method", "delta", "rho"], as_index=False)["success"].mean()
    deltas, rhos = np.sort(table["delta"].unique()), np.sort(table["rho"].unique())
    for ax, method in zip(np.atleast_1d(axes), methods, strict=True):
        g = prob[prob["method"] == method].pivot(index="rho", columns="delta", values="success")
        g = g.reindex(index=rhos, columns=deltas)
        mesh = ax.pcolormesh(_edges(deltas), _edges(rhos), g.to_numpy(), cmap="viridis", vmin=0, vmax=1, shading="flat")
        if len(deltas) > 1 and len(rhos) > 1:
            ax.contour(deltas, rhos, g.to_numpy(), levels=[0.5], colors="w", linewidths=1.2)
        ax.plot(theory["delta"], theory["rho"], color="tab:red", lw=1.2, ls="--")
        q = prob[prob["method"] == "q" + method[2:]] if method != "bp" else prob.iloc[:0]
        if len(q) and len(deltas) > 1 and len(rhos) > 1:
            qg = q.pivot(index="rho", columns="delta", values="success").reindex(index=rhos, columns=deltas)
            ax.contour(deltas, rhos, qg.to_numpy(), levels=[0.5], colors="tab:orange", linewidths=1.0, linestyles=":")
        if method != "bp":
            row = table[table["method"] == method].iloc[0]
            names[method] = f"GD, $L={int(row['depth'])}$, $\\alpha={row['alpha']:g}$"
        ax.set(xlabel=r"$\delta = m/n$", title=names[method], xlim=(0, 1), ylim=(0, 1))
        ax.grid(False)
    np.atleast_1d(axes)[0].set_ylabel(r"$\rho = k/m$")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="w", lw=1.2, label="empirical 50 %"),
        Line2D([], [], color="tab:red", lw=1.2, ls="--", label=r"$\ell_1$ theory (statistical dimension)"),
    ]
    if table["method"].str.startswith("q").any():
        handles.append(
            Line2D([], [], color="tab:orange", lw=1.0, ls=":", label=r"50 % of $\min Q_\alpha$ (same $\alpha$)")
        )
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=6, frameon=False)
    fig.colorbar(mesh, ax=axes, shrink=0.9, label="P(exact recovery)")
    return fig


def _edges(v):
    """Cell edges for pcolormesh around sorted grid values ``v``."""
    import numpy as np

    v = np.asarray(v, dtype=float)
    if len(v) == 1:
        return np.array([v[0] - 0.05, v[0] + 0.05])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def sp3_depth_sgd_noise(sp1: pd.DataFrame, sgd: pd.DataFrame, noise: pd.DataFrame, bp_within: float) -> plt.Figure:
    """SP3, three panels: (a) distance of the GD limit to basis pursuit against α per depth, with
    the exact-regularizer prediction dashed ("more is less"); (b) error of the limit of SGD and
    GD at equal α against the step size, per mini-batch size; (c) on noisy data, the error along
    GD's trajectory per α against the best error on the Lasso path."""
    style()
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 2.3), constrained_layout=True)
    ax = axes[0]
    t = sp1.copy()
    t["depth"] = "L = " + t["depth"].astype(str)
    t["dist_bp"] = t["dist_bp"].clip(lower=1e-12)
    sns.lineplot(
        data=t, x="alpha", y="dist_bp", hue="depth", estimator="median", errorbar=None, marker="o", markersize=3, ax=ax
    )
    if "q_dist_bp" in t.columns and t["q_dist_bp"].notna().any():
        q = t.groupby(["depth", "alpha"], as_index=False)["q_dist_bp"].median()
        for _, g in q.groupby("depth"):
            ax.plot(g["alpha"], g["q_dist_bp"].clip(lower=1e-12), color="k", ls=(0, (2, 1.5)), lw=0.7)
    ax.axhline(bp_within, color="0.5", ls=":", lw=0.8)
    ax.set(
        xscale="log", yscale="log", xlabel=r"$\alpha$", ylabel=r"rel. distance to $x_{\mathrm{BP}}$", title="(a) depth"
    )
    ax.legend(fontsize=6, title=None)

    ax = axes[1]
    s = sgd.copy()
    m = int(s["m"].iloc[0])
    s["batch size"] = s["batch"].map(lambda b: f"GD ({b})" if b == m else str(b))
    s["dist_xstar"] = s["dist_xstar"].clip(lower=1e-12)
    order = [f"GD ({m})"] + [str(b) for b in sorted(s["batch"].unique()) if b != m]
    sns.lineplot(
        data=s,
        x="lr",
        y="dist_xstar",
        hue="batch size",
        hue_order=order,
        estimator="median",
        errorbar=None,
        marker="o",
        markersize=3,
        ax=ax,
    )
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="step size lr (fraction of $1/\\hat\\lambda$)",
        ylabel=r"$\|x_\infty - x^\star\|/\|x^\star\|$",
        title=f"(b) SGD, $\\alpha={s['alpha'].iloc[0]:g}$",
    )
    ax.legend(fontsize=6, title="batch", title_fontsize=6)

    ax = axes[2]
    g = noise[noise["method"] == "GD"].copy()
    g["alpha"] = g["alpha"].map(lambda a: f"GD, $\\alpha={a:g}$")
    sns.lineplot(data=g, x="step", y="rel_err", hue="alpha", estimator="median", errorbar=None, ax=ax)
    lasso = noise[noise["method"] == "Lasso"].groupby("instance")["rel_err"].min().median()
    ax.axhline(lasso, color="k", ls="--", lw=0.8, label="Lasso, best $\\lambda$")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="GD step",
        ylabel=r"$\|x_t - x^\star\|/\|x^\star\|$",
        title=f"(c) noise $\\sigma={noise['sigma'].iloc[0]:g}$",
    )
    ax.legend(fontsize=6, title=None)
    return fig
