"""Figures of the experiments' results, drawn on ``matplotlib.figure.Figure`` (no pyplot).

One function per figure; each takes a :class:`dlkit.experiments.results.Result` and returns
a new Figure. Where an experiment ran several seeds, a line is the mean over seeds and the
shaded band spans the minimum to the maximum over seeds.

``figures(result)`` gives every figure of a result by file name; ``save_png(fig, path)``
writes one. Figure sizes are fixed (``bbox_inches`` is not "tight"), so a PNG's size in pixels
is ``figsize × dpi``.
"""

from __future__ import annotations

import math
import os
from typing import Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "smooth_curve",
    "plot_activation_histograms",
    "plot_init_compare",
    "plot_batchnorm_grid",
    "plot_batchnorm_summary",
    "plot_symmetry",
    "figures",
    "save_png",
]

#: Resolution of the saved PNGs (pixels per inch).
DPI = 100

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


def smooth_curve(x: np.ndarray, window_len: int = 11) -> np.ndarray:
    """The book's ``smooth_curve`` (common/util.py): a Kaiser-window moving average, same length.

    The ends are padded by reflection, as the book does, so the curve has len(x) points.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size < window_len:
        return x.copy()
    s = np.r_[x[window_len - 1:0:-1], x, x[-1:-window_len:-1]]
    w = np.kaiser(window_len, 2)
    y = np.convolve(w / w.sum(), s, mode="valid")
    half = window_len // 2
    return y[half:len(y) - half]


def _band(ax, x, runs, color, label, linestyle="-"):
    """Mean of ``runs`` (seeds × points) as a line, min–max over seeds as a shaded band."""
    runs = np.asarray(runs, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(runs, axis=0) if np.isfinite(runs).any() else runs[0]
    ax.plot(x, mean, color=color, linestyle=linestyle, label=label, linewidth=1.6)
    if runs.shape[0] > 1:
        ax.fill_between(x, np.nanmin(runs, axis=0), np.nanmax(runs, axis=0), color=color,
                        alpha=0.2, linewidth=0)


def _seeds_note(result) -> str:
    n = len(result.seeds)
    if n == 1:
        return f"seed {result.seeds[0]}"
    return f"{n} seeds: line = mean, band = min–max"


def _new_figure(width: float, height: float,
                layout: Literal["constrained"] | None = "constrained") -> Figure:
    """A Figure on an Agg canvas. Grids of many panels pass ``layout=None`` and place the
    panels with ``subplots_adjust``: the constrained-layout solver would double their
    drawing time."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def plot_activation_histograms(result) -> Figure:
    """One row per configuration, one panel per layer: histogram of the layer's activations.

    Bars are the mean count per bin over seeds, the black step line and band the min–max.
    Each panel notes the layer's std and saturated fraction (mean over seeds). ReLU's exact
    zeros all fall in the first bin; as in the book, the y axis is cut above the tallest of the
    other bins, and the panel states the fraction of zeros.
    """
    configs = result.data["configs"]
    names = list(configs)
    n_layers = result.settings["hidden_layer_size"]
    width, height = 2.4 * n_layers + 0.6, 1.9 * len(names) + 0.8
    fig = _new_figure(width, height, layout=None)
    fig.subplots_adjust(left=0.9 / width, right=1 - 0.15 / width, bottom=0.55 / height,
                        top=1 - 1.0 / height, wspace=0.3, hspace=0.45)
    axes = fig.subplots(len(names), n_layers, squeeze=False)
    for row, name in enumerate(names):
        c = configs[name]
        edges = c["edges"]
        for layer in range(n_layers):
            ax = axes[row, layer]
            counts = c["hist"][:, layer, :].astype(np.float64)
            mean = counts.mean(axis=0)
            ax.stairs(mean, edges, fill=True, color=_COLORS[row % len(_COLORS)], alpha=0.8)
            if counts.shape[0] > 1:
                ax.stairs(counts.max(axis=0), edges, color="black", linewidth=0.5)
                ax.stairs(counts.min(axis=0), edges, color="black", linewidth=0.5)
            if c["activation"] == "relu" and mean[1:].max() > 0:
                ax.set_ylim(0, 1.25 * counts[:, 1:].max())
            ax.set_xlim(edges[0], edges[-1])
            std = c["std"][:, layer].mean()
            if c["activation"] == "relu":
                note = f"zeros {c['zero'][:, layer].mean():.0%}"
            else:
                note = f"saturated {c['saturated'][:, layer].mean():.0%}"
            ax.set_title(f"layer {layer + 1}: std {std:.3g}, {note}", fontsize=8)
            ax.tick_params(labelsize=7)
            if layer == 0:
                ax.set_ylabel(f"{name}\ncount", fontsize=9)
            if row == len(names) - 1:
                ax.set_xlabel("activation value", fontsize=8)
    s = result.settings
    fig.suptitle(
        f"Activation histograms: {s['n_samples']} samples × {s['node_num']} units, "
        f"{n_layers} layers, input N(0, 1)\n(bars: mean count over {len(result.seeds)} seed(s); "
        "black lines: min and max; std and saturated/zero fraction: mean over seeds)",
        fontsize=12,
    )
    return fig


def plot_init_compare(result) -> Figure:
    """Training loss per iteration (smoothed as in the book) for each weight initialization."""
    fig = _new_figure(8, 5.5)
    ax = fig.subplots()
    s = result.settings
    for i, (label, d) in enumerate(result.data["schemes"].items()):
        loss = np.asarray(d["loss"], dtype=np.float64)
        smoothed = np.stack([smooth_curve(run) for run in loss])
        it = np.arange(1, loss.shape[1] + 1)
        acc = np.nanmean(d["test_acc"])
        _band(ax, it, smoothed, _COLORS[i % len(_COLORS)], f"{label} (test acc. {acc:.1%})")
    ax.axhline(math.log(s["output_size"]), color="gray", linestyle=":", linewidth=1,
               label=f"ln {s['output_size']} (chance)")
    ax.set_ylim(0, 2.6)
    ax.set_xlim(0, s["iterations"])
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (mini-batch, smoothed)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    hidden = "-".join(str(h) for h in s["hidden_size_list"])
    ax.set_title(
        f"Weight initialization on {s['dataset']}: {s['input_size']}-{hidden}-"
        f"{s['output_size']}, {s['activation']}, SGD lr {s['lr']}, batch {s['batch_size']}\n"
        f"({_seeds_note(result)})",
        fontsize=10,
    )
    return fig


def _scale_label(w: float) -> str:
    return f"W: {w:.3g}" if w >= 1e-3 else f"W: {w:.1e}"


def plot_batchnorm_grid(result) -> Figure:
    """The book's 4×4 grid: training accuracy per epoch, with and without BN, one panel per
    initial weight scale."""
    scales = result.data["weight_scales"]
    n = len(scales)
    ncols = math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    width, height = 3.0 * ncols, 2.5 * nrows + 0.6
    fig = _new_figure(width, height, layout=None)
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, bottom=0.55 / height,
                        top=1 - 0.6 / height, wspace=0.08, hspace=0.3)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    bn, plain = result.data["batchnorm"], result.data["plain"]
    epochs = np.arange(bn["train_acc"].shape[2])
    for k, w in enumerate(scales):
        ax = axes.flat[k]
        _band(ax, epochs, bn["train_acc"][:, k, :], "tab:blue", "with BatchNorm")
        _band(ax, epochs, plain["train_acc"][:, k, :], "tab:orange", "without BN", "--")
        ax.set_title(_scale_label(w), fontsize=10)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        if k % ncols == 0:
            ax.set_ylabel("training accuracy")
        if k // ncols == nrows - 1:
            ax.set_xlabel("epoch")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="lower right", fontsize=8)
    s = result.settings
    fig.suptitle(
        f"Batch Normalization on {s['dataset']} ({s['train_size']} training samples, "
        f"{len(s['hidden_size_list'])} hidden layers of {s['hidden_size_list'][0]}, "
        f"SGD lr {s['lr']}, batch {s['batch_size']}; {_seeds_note(result)})",
        fontsize=11,
    )
    return fig


def plot_batchnorm_summary(result) -> Figure:
    """Final accuracy against the initial weight scale, with and without BN."""
    scales = np.asarray(result.data["weight_scales"])
    fig = _new_figure(8, 5.5)
    ax = fig.subplots()
    for key, color, label in (("batchnorm", "tab:blue", "with BatchNorm"),
                              ("plain", "tab:orange", "without BN")):
        d = result.data[key]
        _band(ax, scales, d["train_acc"][:, :, -1], color, f"{label}: training")
        if "test_acc" in d:
            _band(ax, scales, d["test_acc"], color, f"{label}: test", ":")
    chance = 1.0 / result.settings["output_size"]
    ax.axhline(chance, color="gray", linestyle=":", linewidth=1, label=f"chance ({chance:.2g})")
    ax.set_xscale("log")
    ax.set_ylim(0, 1)
    ax.set_xlabel("initial weight scale (std of W)")
    ax.set_ylabel(f"accuracy after {result.settings['epochs']} epochs")
    ax.grid(alpha=0.3, which="both")
    fig.legend(loc="outside lower center", ncols=3, fontsize=9)
    ax.set_title(
        f"Accuracy after training against the initial weight scale, with and without "
        f"BatchNorm\n({result.settings['dataset']}; {_seeds_note(result)})",
        fontsize=10,
    )
    return fig


def plot_symmetry(result) -> Figure:
    """Left: how different the hidden units are (the largest difference between two units'
    incoming weights) at each training step, per initialization and layer; right: the
    training loss. Symmetric starts stay at exactly 0 although their weights move (legend)."""
    fig = _new_figure(12, 5)
    ax_spread, ax_loss = fig.subplots(1, 2)
    n_layers = len(result.settings["hidden_size_list"])
    styles = ("-", "--", ":", "-.")
    top = 0.0
    for i, (label, d) in enumerate(result.data["inits"].items()):
        color = _COLORS[i % len(_COLORS)]
        steps = np.arange(d["spread"].shape[1])
        for layer in range(n_layers):
            moved = np.mean(d["moved"][:, layer])
            _band(ax_spread, steps, d["spread"][:, :, layer], color,
                  f"{label}, layer {layer + 1} (weights moved {moved:.2g})",
                  styles[layer % len(styles)])
        top = max(top, float(np.nanmax(d["spread"])))
        _band(ax_loss, np.arange(1, d["loss"].shape[1] + 1), d["loss"], color, label)
    top = top if top > 0 else 1.0
    ax_spread.set_ylim(-0.05 * top, 1.15 * top)
    ax_spread.set_xlabel("training step")
    ax_spread.set_ylabel("max over inputs i of (max_j W[i, j] − min_j W[i, j])")
    ax_spread.set_title("Difference between the units of a hidden layer (0 = all identical)",
                        fontsize=10)
    ax_spread.grid(alpha=0.3)
    ax_spread.legend(fontsize=8, loc="center right")
    ax_loss.axhline(math.log(result.settings["output_size"]), color="gray", linestyle=":",
                    linewidth=1, label=f"ln {result.settings['output_size']} (chance)")
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("training loss (mini-batch)")
    ax_loss.set_title("Training loss", fontsize=10)
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=8)
    s = result.settings
    hidden = "-".join(str(h) for h in s["hidden_size_list"])
    fig.suptitle(
        f"Symmetry: {s['input_size']}-{hidden}-{s['output_size']} {s['activation']} net on "
        f"{s['dataset']}, SGD lr {s['lr']}, batch {s['batch_size']} ({_seeds_note(result)})",
        fontsize=11,
    )
    return fig


_FIGURES = {
    "activation_histograms": (("activation_histograms", plot_activation_histograms),),
    "init_compare": (("init_compare", plot_init_compare),),
    "batchnorm_compare": (("batchnorm_grid", plot_batchnorm_grid),
                          ("batchnorm_summary", plot_batchnorm_summary)),
    "symmetry": (("symmetry", plot_symmetry),),
}


def figures(result) -> dict[str, Figure]:
    """Every figure of ``result``, by name (the PNG file name without ``.png``)."""
    if result.experiment not in _FIGURES:
        raise ValueError(
            f"no figures for experiment {result.experiment!r}; expected one of {sorted(_FIGURES)}"
        )
    return {name: draw(result) for name, draw in _FIGURES[result.experiment]}


def save_png(fig: Figure, path: str | os.PathLike) -> None:
    """Save ``fig`` as a PNG of exactly ``figsize × DPI`` pixels."""
    fig.savefig(path, format="png", dpi=DPI)
