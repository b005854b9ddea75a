"""The NL figures: NL1 loss, norm, angle and margin against t; NL2 rich against lazy."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from iloco.core.style import TEXT_WIDTH, style
from iloco.nl import macros


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
    # the students that reached the training-loss tolerance (equal loss across scales)
    ok, tol = macros.matched(teacher), teacher["tol_loss"].iloc[0]
    med = ok.groupby("init_scale", as_index=False)[
        ["effective_rank", "directions", "rel_change", "test_rel_mse"]
    ].median()
    ax = axes[0]
    ax.plot(med["init_scale"], med["effective_rank"], "o-", ms=3, label="effective rank")
    ax.plot(med["init_scale"], med["directions"], "s--", ms=3, label="neuron directions")
    ax.axhline(int(teacher["teacher_width"].iloc[0]), color="0.3", ls=":", lw=0.8, label="teacher width")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="init scale",
        title=f"(a) width {int(teacher['width'].iloc[0])}\n{len(ok)}/{len(teacher)} at {tol:g}× linear fit",
    )
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=5, loc="lower right")
    ax = axes[1]
    ax.plot(med["init_scale"], med["rel_change"], "o-", ms=3, label=r"$\|W-W_0\|/\|W_0\|$")
    ax.plot(med["init_scale"], med["test_rel_mse"], "s--", ms=3, label="test rel. MSE")
    ax.set(xscale="log", yscale="log", xlabel="init scale", title="(b) movement,\ntest error")
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
