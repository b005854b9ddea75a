"""The SP figures: SP1 distances against α, SP2 phase diagrams, SP3 depth, SGD and noise."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from iloco.core.style import BAND_PI, TEXT_WIDTH, style


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


def sp2_phase(table: pd.DataFrame, theory: pd.DataFrame, threshold: float | None = None) -> plt.Figure:
    """SP2: probability of exact recovery over (δ, ρ) for basis pursuit and for the exact
    gradient-flow limit of the diagonal network per depth (the minimizer of Q_α at GD's α, every
    grid row; one heatmap each), the empirical 50 % contour of each, the theoretical ℓ1 curve ρ(δ)
    of the statistical dimension (``theory``: columns delta, rho) and the cells of the validation
    slice (dots). Last panel: on the slice, GD's relative error against the flow limit's, per depth;
    runs that hit the step budget as crosses; ``threshold`` (sp2.success_tol) splits the decisions."""

    style()
    flows = sorted((m for m in table["method"].unique() if m.startswith("q")), key=lambda m: int(m[1:]))
    gds = sorted((m for m in table["method"].unique() if m.startswith("gd")), key=lambda m: int(m[2:]))
    methods = ["bp", *flows]
    names = {"bp": "basis pursuit"}
    panels = len(methods) + (1 if gds else 0)
    fig, axes = plt.subplots(1, panels, figsize=(TEXT_WIDTH, 2.4), constrained_layout=True)
    axes = np.atleast_1d(axes)
    prob = table.groupby(["method", "delta", "rho"], as_index=False)["success"].mean()
    deltas, rhos = np.sort(table["delta"].unique()), np.sort(table["rho"].unique())
    slice_cells = table[table["method"].isin(gds)][["delta", "rho"]].drop_duplicates()
    for ax, method in zip(axes, methods, strict=False):
        g = prob[prob["method"] == method].pivot(index="rho", columns="delta", values="success")
        g = g.reindex(index=rhos, columns=deltas)
        mesh = ax.pcolormesh(_edges(deltas), _edges(rhos), g.to_numpy(), cmap="viridis", vmin=0, vmax=1, shading="flat")
        if len(deltas) > 1 and len(rhos) > 1:
            ax.contour(deltas, rhos, g.to_numpy(), levels=[0.5], colors="w", linewidths=1.2)
        ax.plot(theory["delta"], theory["rho"], color="tab:red", lw=1.2, ls="--")
        if method != "bp":
            row = table[table["method"] == method].iloc[0]
            names[method] = f"flow, $L={int(row['depth'])}$, $\\alpha={row['alpha']:g}$"
            ax.plot(slice_cells["delta"], slice_cells["rho"], ls="none", marker=".", ms=2.5, color="w")
        ax.set(xlabel=r"$\delta = m/n$", xlim=(0, 1), ylim=(0, 1))
        ax.set_title(names[method], fontsize=6)
        ax.grid(False)
        if ax is not axes[0]:
            ax.tick_params(labelleft=False)
    axes[0].set_ylabel(r"$\rho = k/m$")
    fig.colorbar(mesh, ax=axes[: len(methods)], shrink=0.9, label="P(exact recovery)")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="w", lw=1.2, label="empirical 50 %"),
        Line2D([], [], color="tab:red", lw=1.2, ls="--", label=r"$\ell_1$ theory (statistical dimension)"),
    ]
    if gds:
        ax = axes[-1]
        floor = 1e-6
        for i, method in enumerate(gds):
            g = table[table["method"] == method]
            flow = table[table["method"] == "q" + method[2:]].set_index(["cell", "trial"])["rel_err"]
            fx = flow.reindex(pd.MultiIndex.from_frame(g[["cell", "trial"]])).to_numpy().clip(floor)
            gy = g["rel_err"].to_numpy().clip(floor)
            conv = (g["status"] == "converged").to_numpy()
            color = f"C{i}"
            ax.plot(fx[conv], gy[conv], ls="none", marker="o", ms=2.5, color=color, label=f"GD, $L={method[2:]}$")
            ax.plot(fx[~conv], gy[~conv], ls="none", marker="x", ms=3, color=color, mew=0.8)
        lo = floor
        ax.plot([lo, 2], [lo, 2], color="0.5", lw=0.6)
        if threshold is not None:
            ax.axvline(threshold, color="0.5", ls=":", lw=0.8)
            ax.axhline(threshold, color="0.5", ls=":", lw=0.8)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="rel. error, flow limit",
            ylabel="rel. error, GD",
            title="validation slice",
        )
        ax.legend(fontsize=5, loc="upper left")
        handles.append(Line2D([], [], color="0.3", marker="x", ls="none", ms=3, label="GD hit its step budget"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=6, frameon=False)
    return fig


def _edges(v):
    """Cell edges for pcolormesh around sorted grid values ``v``."""

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
