"""Figures of the experiments' results, drawn on ``matplotlib.figure.Figure`` (no pyplot).

One function per figure; each takes a :class:`dlkit.experiments.results.Result` and returns
a new Figure. Where an experiment ran several seeds, a line is the mean over seeds and the
shaded band spans the minimum to the maximum over seeds.

``figures(result)`` gives every figure of a result by file name; ``save_png(fig, path)``
writes one. Figure sizes are fixed (``bbox_inches`` is not "tight"), so a PNG's size in pixels
is ``figsize × dpi``; titles are wrapped to the figure's width, whatever the dataset's name.

Each initializer has one colour in every figure (:func:`init_color`): He purple, Xavier
green, σ = 0.01 grey, σ = 1 red, σ = 0.1 brown; with BatchNorm a darker shade of it, with
weight decay a lighter one. Blue and orange mean "with BatchNorm" and "without" in the
figures that compare the two at one initializer.
"""

from __future__ import annotations

import math
import os
import textwrap
from typing import Any, Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

__all__ = [
    "DPI",
    "smooth_curve",
    "plot_activation_histograms",
    "plot_init_compare",
    "plot_batchnorm_grid",
    "plot_batchnorm_summary",
    "plot_symmetry",
    "plot_gradient_flow",
    "plot_init_activations",
    "plot_batchnorm_speed",
    "plot_overfitting",
    "figure_names",
    "figure",
    "figures",
    "save_png",
    "init_color",
]

#: Resolution of the saved PNGs (pixels per inch).
DPI = 100

_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan")

#: the colour of each initializer, the same in every figure (see init_color)
_INIT_COLORS = {"he": "tab:purple", "xavier": "tab:green", "0.01": "tab:gray",
                "1": "tab:red", "0.1": "tab:brown", "zeros": "tab:olive",
                "constant": "tab:cyan"}
_INIT_NAMES = {"relu": "he", "sigmoid": "xavier"}
#: with and without BatchNorm, where a figure compares the two at one initializer
BN_COLOR, PLAIN_COLOR = "tab:blue", "tab:orange"
#: the line of chance-level loss ln(classes): black, dashed, drawn over the curves
#: (sparse dashes: a curve stuck at chance shows between them)
_CHANCE_STYLE: dict[str, Any] = {"color": "black", "linestyle": (0, (3, 5)), "linewidth": 1.0,
                                 "zorder": 5}


def init_color(weight_init, use_batchnorm: bool = False, weight_decay: float = 0.0) -> str:
    """The colour of an initializer (a ``weight_init_std``: 'he', 'xavier', a float, 'zeros',
    ('constant', c), ...), as a hex string: the same in every figure. With BatchNorm a darker
    shade of it, with weight decay a lighter one; an initializer without a colour of its own
    gets pink."""
    if isinstance(weight_init, str):
        key = _INIT_NAMES.get(weight_init.lower(), weight_init.lower())
    elif isinstance(weight_init, (list, tuple)):
        key = str(weight_init[0])
    else:
        key = f"{float(weight_init):g}"
    rgb = np.array(to_rgb(_INIT_COLORS.get(key, "tab:pink")))
    if use_batchnorm:
        rgb = 0.55 * rgb  # toward black
    if weight_decay:
        rgb = rgb + 0.5 * (1 - rgb)  # toward white
    r, g, b = (float(v) for v in rgb)
    return to_hex((r, g, b))


def _wrap(text: str, width_inches: float, fontsize: float) -> str:
    """``text`` with each line wrapped to fit ``width_inches`` at ``fontsize`` points (a
    character is taken as 0.6 em wide, a safe bound for the default font)."""
    chars = max(20, int(width_inches * 72 / (0.6 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _suptitle(fig: Figure, text: str, fontsize: float, below: float = 0.0) -> None:
    """The figure's title, wrapped to its width. ``below`` > 0 (figures placed by hand,
    without the constrained layout): move the panels' top down to leave the title its lines
    and ``below`` inches more (for the panels' own titles)."""
    wrapped = _wrap(text, fig.get_figwidth() - 0.3, fontsize)
    fig.suptitle(wrapped, fontsize=fontsize)
    if below:
        lines = wrapped.count("\n") + 1
        top = 0.15 + lines * fontsize * 1.3 / 72 + below  # inches from the top edge
        fig.subplots_adjust(top=1 - top / fig.get_figheight())


def _chance_line(ax, n_classes: int, label: bool = True) -> None:
    """The loss of guessing, ln(classes), as a line that stays visible over the curves
    (a network that does not learn sits right on it), with its value written at the right."""
    chance = math.log(n_classes)
    ax.axhline(chance, label=f"ln {n_classes} = {chance:.2f} (chance)" if label else None,
               **_CHANCE_STYLE)
    ax.annotate(f"ln {n_classes}", (1.0, chance), xycoords=("axes fraction", "data"),
                xytext=(-3, 3), textcoords="offset points", ha="right", va="bottom",
                fontsize=8, zorder=6)


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


#: a configuration "learned" when its final training accuracy is at least this (as the
#: claims: dlkit.experiments.claims_slides.LEARNED_ACC)
_LEARNED_ACC = 0.5


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
                        wspace=0.3, hspace=0.45)
    axes = fig.subplots(len(names), n_layers, squeeze=False)
    for row, name in enumerate(names):
        c = configs[name]
        edges = c["edges"]
        for layer in range(n_layers):
            ax = axes[row, layer]
            counts = c["hist"][:, layer, :].astype(np.float64)
            mean = counts.mean(axis=0)
            ax.stairs(mean, edges, fill=True, color=init_color(c["weight_init"]), alpha=0.8)
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
    _suptitle(
        fig,
        f"Activation histograms: {s['n_samples']} samples × {s['node_num']} units, "
        f"{n_layers} layers, input N(0, 1)\n(bars: mean count over {len(result.seeds)} "
        "seed(s), coloured by initial weights; black lines: min and max; std and fractions: "
        "means)",
        12, below=0.3,
    )
    return fig


def plot_init_compare(result) -> Figure:
    """Training loss per iteration (smoothed as in the book) for each weight initialization."""
    fig = _new_figure(8, 5.5)
    ax = fig.subplots()
    s = result.settings
    for label, d in result.data["schemes"].items():
        loss = np.asarray(d["loss"], dtype=np.float64)
        smoothed = np.stack([smooth_curve(run) for run in loss])
        it = np.arange(1, loss.shape[1] + 1)
        acc = np.nanmean(d["test_acc"])
        _band(ax, it, smoothed, init_color(d["weight_init"]), f"{label} (test acc. {acc:.1%})")
    _chance_line(ax, s["output_size"])
    ax.set_ylim(0, 2.6)
    ax.set_xlim(0, s["iterations"])
    ax.set_xlabel("iteration")
    ax.set_ylabel("training loss (mini-batch, smoothed)")
    ax.grid(alpha=0.3)
    ax.legend(loc="center right")
    hidden = "-".join(str(h) for h in s["hidden_size_list"])
    _suptitle(
        fig,
        f"Weight initialization on {s['dataset']}\n{s['input_size']}-{hidden}-"
        f"{s['output_size']}, {s['activation']}, SGD lr {s['lr']}, batch {s['batch_size']} "
        f"({_seeds_note(result)})",
        10,
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
                        wspace=0.08, hspace=0.3)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    bn, plain = result.data["batchnorm"], result.data["plain"]
    epochs = np.arange(bn["train_acc"].shape[2])
    for k, w in enumerate(scales):
        ax = axes.flat[k]
        _band(ax, epochs, bn["train_acc"][:, k, :], BN_COLOR, "with BatchNorm")
        _band(ax, epochs, plain["train_acc"][:, k, :], PLAIN_COLOR, "without BN", "--")
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
    _suptitle(
        fig,
        f"Batch Normalization on {s['dataset']} ({s['train_size']} training samples, "
        f"{len(s['hidden_size_list'])} hidden layers of {s['hidden_size_list'][0]}, "
        f"SGD lr {s['lr']}, batch {s['batch_size']}; {_seeds_note(result)})",
        11, below=0.3,
    )
    return fig


def plot_batchnorm_summary(result) -> Figure:
    """Final accuracy against the initial weight scale, with and without BN."""
    scales = np.asarray(result.data["weight_scales"])
    fig = _new_figure(8, 5.5)
    ax = fig.subplots()
    for key, color, label in (("batchnorm", BN_COLOR, "with BatchNorm"),
                              ("plain", PLAIN_COLOR, "without BN")):
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
    _suptitle(
        fig,
        f"Accuracy after training against the initial weight scale, with and without "
        f"BatchNorm\n({result.settings['dataset']}; {_seeds_note(result)})",
        10,
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
    for label, d in result.data["inits"].items():
        color = init_color(d["weight_init"])
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
    _chance_line(ax_loss, result.settings["output_size"])
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("training loss (mini-batch)")
    ax_loss.set_title("Training loss", fontsize=10)
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=8)
    s = result.settings
    hidden = "-".join(str(h) for h in s["hidden_size_list"])
    _suptitle(
        fig,
        f"Symmetry: {s['input_size']}-{hidden}-{s['output_size']} {s['activation']} net on "
        f"{s['dataset']}, SGD lr {s['lr']}, batch {s['batch_size']} ({_seeds_note(result)})",
        11,
    )
    return fig


def _scheme_name(weight_init) -> str:
    """'He', 'Xavier' or 'σ=0.01' for a weight_init_std as the experiments record it."""
    if isinstance(weight_init, str):
        names = {"he": "He", "relu": "He", "xavier": "Xavier", "sigmoid": "Xavier"}
        return names.get(weight_init, weight_init)
    return f"σ={weight_init:g}"


def _activation_label(activation: str) -> str:
    return "ReLU" if activation == "relu" else activation


def _log_band(ax, x, runs, color, label, linestyle, marker):
    """Like ``_band`` for values spanning orders of magnitude: geometric mean over seeds."""
    runs = np.asarray(runs, dtype=np.float64)
    with np.errstate(divide="ignore"):
        mean = np.exp(np.log(runs).mean(axis=0))
    ax.plot(x, mean, color=color, linestyle=linestyle, marker=marker, markersize=4,
            label=label, linewidth=1.6)
    if runs.shape[0] > 1:
        ax.fill_between(x, runs.min(axis=0), runs.max(axis=0), color=color, alpha=0.15,
                        linewidth=0)


def plot_gradient_flow(result) -> Figure:
    """The gradients of every layer, one column per activation, log scale: top, what
    backpropagation passes back (RMS ∂L/∂z of each hidden layer); bottom, the weight
    gradients (RMS ∂L/∂W of each layer). Solid: at initialization; dashed: after training."""
    configs = result.data["configs"]
    s = result.settings
    activations = list(dict.fromkeys(d["activation"] for d in configs.values()))
    fig = _new_figure(max(4.6 * len(activations) + 0.4, 10.0), 9.0)
    axes = fig.subplots(2, len(activations), squeeze=False, sharey="row")
    L = len(s["hidden_size_list"])
    for col, activation in enumerate(activations):
        ax_z, ax_w = axes[0, col], axes[1, col]
        handles = []
        for name, d in ((n, d) for n, d in configs.items() if d["activation"] == activation):
            color = init_color(d["weight_init"])
            for when, style, marker in ((0, "-", "o"), (1, "--", "s")):
                _log_band(ax_z, np.arange(1, L + 1), d["act_grad"][:, when], color, None,
                          style, marker)
                _log_band(ax_w, np.arange(1, L + 2), d["weight_grad"][:, when], color, None,
                          style, marker)
            handles.append(Line2D([], [], color=color, marker="o",
                                  label=name.split(", ", 1)[-1]))
        ax_z.set_title(_activation_label(activation), fontsize=12)
        for ax in (ax_z, ax_w):
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="major")
        ax_z.legend(handles=handles, fontsize=9, loc="best")
        ax_z.set_xticks(np.arange(1, L + 1))
        ax_w.set_xticks(np.arange(1, L + 2),
                        [str(k) for k in range(1, L + 1)] + ["out"])
        ax_w.set_xlabel("layer (1 = next to the input)")
        if col == 0:
            ax_z.set_ylabel("RMS ∂L/∂z (passed back to hidden layer l)")
            ax_w.set_ylabel("RMS ∂L/∂W of layer l")
    hidden = "-".join(str(h) for h in s["hidden_size_list"])
    _suptitle(
        fig,
        f"Gradients layer by layer on {s['dataset']}: {s['input_size']}-{hidden}-"
        f"{s['output_size']}, probe of {s['probe_size']} samples, SGD lr {s['lr']}, batch "
        f"{s['batch_size']}\nsolid ●: at initialization, dashed ■: after {s['steps']} steps; "
        f"a line rising to the right = the gradient shrinks toward the input\n"
        f"({_seeds_note(result).replace('mean', 'geometric mean')})",
        11,
    )
    return fig


def _row_lr(settings, activation):
    """The learning rate of ``activation``'s row: one for all, or a dict per activation."""
    lr = settings["lr"]
    return lr[activation] if isinstance(lr, dict) else lr


def plot_init_activations(result) -> Figure:
    """Left: the table activation × initializer of final losses (mean over seeds); right:
    the loss curves of each activation (smoothed as in the book), at its row's learning
    rate."""
    rows = result.data["activations"]
    s = result.settings
    labels = list(next(iter(rows.values())))
    fig = _new_figure(5 + 4.6 * len(rows), 5)
    axes = fig.subplots(1, 1 + len(rows), width_ratios=[1.1] + [1] * len(rows))
    table = np.array([[np.mean(_final_loss(rows[a][label]["loss"])) for label in labels]
                      for a in rows])
    ax = axes[0]
    ax.imshow(table, cmap="YlGn_r", vmin=0, vmax=math.log(s["output_size"]), aspect="auto")
    for r in range(table.shape[0]):
        for c in range(table.shape[1]):
            best = table[r, c] == table[r].min()
            ax.text(c, r, f"{table[r, c]:.3f}", ha="center", va="center", fontsize=12,
                    color="white" if table[r, c] < 0.8 else "black",
                    fontweight="bold" if best else "normal")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(rows)),
                  [f"{_activation_label(a)}\nlr {_row_lr(s, a):g}" for a in rows])
    ax.set_xlabel("initial weights")
    ax.set_ylabel("activation (SGD learning rate)")
    ax.set_title(f"final loss (bold: lowest of the row;\nln {s['output_size']} = "
                 f"{math.log(s['output_size']):.2f} is chance)", fontsize=10)
    for ax, (activation, schemes) in zip(axes[1:], rows.items(), strict=True):
        for label, d in schemes.items():
            loss = np.asarray(d["loss"], dtype=np.float64)
            smoothed = np.stack([smooth_curve(run) for run in loss])
            _band(ax, np.arange(1, loss.shape[1] + 1), smoothed, init_color(d["weight_init"]),
                  label)
        _chance_line(ax, s["output_size"], label=False)
        ax.set_ylim(0, 2.6)
        ax.set_xlabel("iteration")
        ax.set_ylabel("training loss (mini-batch, smoothed)")
        ax.set_title(f"{_activation_label(activation)}, SGD lr {_row_lr(s, activation):g}",
                     fontsize=11)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=9)
    hidden = "-".join(str(h) for h in s["hidden_size_list"])
    _suptitle(
        fig,
        f"Initial weights for each activation on {s['dataset']}: {s['input_size']}-{hidden}-"
        f"{s['output_size']}, batch {s['batch_size']}, {s['iterations']} iterations "
        f"({_seeds_note(result)})", 11)
    return fig


def _final_loss(loss) -> np.ndarray:
    """The mean loss over the last 10% of the iterations, per seed (as the claims)."""
    loss = np.asarray(loss, dtype=np.float64)
    n = max(1, int(round(0.1 * loss.shape[-1])))
    return loss[..., -n:].mean(axis=-1)


def _steps_panel(ax, lrs, steps, never, color, label, linestyle, shift):
    """Steps to the target against the learning rate: each seed's count as a dot, the mean as
    a line only where every seed got there; a seed that never got there as an ✕ on the
    "never" row (shifted sideways by the factor ``shift`` so two series do not overlap),
    never averaged with the counts of the others."""
    reached = np.isfinite(steps)  # (S, R)
    every = reached.all(axis=0)
    mean = np.full(len(lrs), np.nan)
    mean[every] = steps[:, every].mean(axis=0)
    ax.plot(lrs, mean, color=color, linestyle=linestyle, linewidth=1.6, label=label)
    for row, ok in zip(steps, reached, strict=True):
        ax.plot(lrs[ok], row[ok], "o", color=color, markersize=3.5, alpha=0.7)
    missed = (~reached).sum(axis=0)
    j = np.flatnonzero(missed)
    if j.size:
        ax.plot(lrs[j] * shift, np.full(j.size, never), "x", color=color, markersize=8,
                markeredgewidth=2)
        for k in j:
            ax.annotate(f"{missed[k]}/{steps.shape[0]}", (lrs[k] * shift, never),
                        xytext=(0, 6), textcoords="offset points", ha="center", fontsize=7,
                        color=color)


def plot_batchnorm_speed(result) -> Figure:
    """Left: steps to the target accuracy and final training accuracy against the learning
    rate, with and without BN; right: the training accuracy per epoch at each rate."""
    s = result.settings
    lrs = np.asarray(result.data["lrs"])
    bn, plain = result.data["batchnorm"], result.data["plain"]
    ncols = math.ceil(len(lrs) / 2)
    fig = _new_figure(4.2 + 3.2 * ncols, 7.4, layout=None)
    grid = fig.add_gridspec(2, 1 + ncols, width_ratios=[1.35] + [1] * ncols, left=0.07,
                            right=0.98, bottom=0.09, wspace=0.3, hspace=0.35)
    ax_steps, ax_final = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[1, 0])
    never = 1.15 * s["epochs"] * s["iter_per_epoch"]  # where "not reached" is drawn
    for d, color, label, ls, shift in ((bn, BN_COLOR, "with BatchNorm", "-", 0.92),
                                       (plain, PLAIN_COLOR, "without BN", "--", 1.08)):
        _steps_panel(ax_steps, lrs, np.asarray(d["steps_to_target"], dtype=np.float64),
                     never, color, label, ls, shift)
        _band(ax_final, lrs, d["train_acc"][:, :, -1], color, label, ls)
    ax_steps.axhline(never, color="gray", linestyle=":", linewidth=1)
    ax_steps.set_ylim(0, 1.6 * never)  # room above the "never" row for the legend
    ticks = [t for t in ax_steps.get_yticks() if 0 <= t < 0.9 * never]
    ax_steps.set_yticks(ticks + [never], [f"{t:g}" for t in ticks] + ["never"])
    ax_steps.set_ylabel(f"steps to {s['target_acc']:.0%} training accuracy")
    ax_steps.set_title("dots: seeds; line: mean where all got there; ✕: seeds that never did",
                       fontsize=8)
    ax_final.set_ylim(0, 1)
    ax_final.set_ylabel(f"training accuracy after {s['epochs']} epochs")
    for ax in (ax_steps, ax_final):
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.grid(alpha=0.3, which="both")
    ax_steps.legend(fontsize=8, loc="upper center", ncols=2)
    epochs = np.arange(bn["train_acc"].shape[2])
    for j, lr in enumerate(lrs):
        ax = fig.add_subplot(grid[j // ncols, 1 + j % ncols])
        _band(ax, epochs, bn["train_acc"][:, j], BN_COLOR, "with BatchNorm")
        _band(ax, epochs, plain["train_acc"][:, j], PLAIN_COLOR, "without BN", "--")
        ax.axhline(s["target_acc"], color="gray", linestyle=":", linewidth=1)
        ax.set_ylim(0, 1)
        ax.set_title(f"lr {lr:g}", fontsize=10)
        ax.grid(alpha=0.3)
        if j // ncols == 1 or j + ncols >= len(lrs):
            ax.set_xlabel("epoch")
        if j % ncols == 0:
            ax.set_ylabel("training accuracy")
    hidden = f"{len(s['hidden_size_list'])} hidden layers of {s['hidden_size_list'][0]}"
    _suptitle(
        fig,
        f"Learning speed with and without BatchNorm on {s['dataset']} ({s['train_size']} "
        f"training samples, {hidden}, {_scheme_name(s['weight_init'])} initial weights, batch "
        f"{s['batch_size']})\n(dotted: the target {s['target_acc']:.0%}; "
        f"{_seeds_note(result)})", 11, below=0.35)
    return fig


def _config_color(d) -> str:
    return init_color(d["weight_init"], d["use_batchnorm"], d.get("weight_decay_lambda", 0.0))


def plot_overfitting(result) -> Figure:
    """Left: training (dotted) and test (solid) accuracy per epoch of each configuration that
    learned; right: training and test accuracy after the last epoch for every configuration,
    with the gap between them, or "did not learn" (training accuracy below 0.5: no gap to
    compare). Colours: the initializer's; darker with BatchNorm, lighter with weight decay."""
    s = result.settings
    configs = result.data["configs"]
    epochs = result.data["epochs"]
    fig = _new_figure(14, 6)
    ax_curves, ax_bars = fig.subplots(1, 2, width_ratios=[1.1, 1])
    labels = list(configs)
    train = np.array([configs[k]["train_acc"][:, -1].mean() for k in labels])
    test = np.array([configs[k]["final_test_acc"].mean() for k in labels])
    learned = train >= _LEARNED_ACC
    for k, (label, d) in enumerate(configs.items()):
        if not learned[k]:
            continue
        color = _config_color(d)
        _band(ax_curves, epochs, d["train_acc"], color, None, ":")
        _band(ax_curves, epochs, d["test_acc"], color, label, "-")
    ax_curves.set_ylim(0, 1.02)
    ax_curves.set_xlabel("epoch")
    ax_curves.set_ylabel("accuracy")
    ax_curves.set_title(f"dotted: training accuracy; solid: test (the first "
                        f"{s['test_eval_size']} test samples)", fontsize=10)
    ax_curves.grid(alpha=0.3)
    ax_curves.legend(fontsize=9, loc="lower right")
    x = np.arange(len(labels))
    for k, label in enumerate(labels):
        color = _config_color(configs[label])
        hatch = None if learned[k] else "//"
        ax_bars.bar(x[k] - 0.2, train[k], 0.4, color=color, alpha=0.45, hatch=hatch,
                    label="training" if k == 0 else None)
        ax_bars.bar(x[k] + 0.2, test[k], 0.4, color=color, hatch=hatch,
                    label="test (all test samples)" if k == 0 else None)
        note = f"gap {train[k] - test[k]:.2f}" if learned[k] else "did not\nlearn"
        ax_bars.text(x[k], max(train[k], test[k]) + 0.02, note, ha="center", fontsize=9)
    ax_bars.set_xticks(x, [label.replace(", ", ",\n") for label in labels], fontsize=8)
    ax_bars.set_ylim(0, 1.15)
    ax_bars.set_ylabel(f"accuracy after {s['epochs']} epochs (mean over seeds)")
    ax_bars.set_title(f"left bar: training, right bar: test; gaps only where the network "
                      f"learned (training ≥ {_LEARNED_ACC})", fontsize=10)
    ax_bars.grid(alpha=0.3, axis="y")
    _suptitle(
        fig,
        f"Overfitting on {s['dataset']}: {s['train_size']} training samples, "
        f"{len(s['hidden_size_list'])} hidden layers of {s['hidden_size_list'][0]}, SGD lr "
        f"{s['lr']}, batch {s['batch_size']} ({_seeds_note(result)})", 11)
    return fig


_FIGURES = {
    "activation_histograms": (("activation_histograms", plot_activation_histograms),),
    "init_compare": (("init_compare", plot_init_compare),),
    "batchnorm_compare": (("batchnorm_grid", plot_batchnorm_grid),
                          ("batchnorm_summary", plot_batchnorm_summary)),
    "symmetry": (("symmetry", plot_symmetry),),
    "gradient_flow": (("gradient_flow", plot_gradient_flow),),
    "init_activations": (("init_activations", plot_init_activations),),
    "batchnorm_speed": (("batchnorm_speed", plot_batchnorm_speed),),
    "overfitting": (("overfitting", plot_overfitting),),
}


def figure_names(experiment: str) -> list[str]:
    """The names of an experiment's figures (PNG file names without ``.png``)."""
    if experiment not in _FIGURES:
        raise ValueError(
            f"no figures for experiment {experiment!r}; expected one of {sorted(_FIGURES)}"
        )
    return [name for name, _ in _FIGURES[experiment]]


def figure(result, name: str) -> Figure:
    """The figure ``name`` of ``result`` (one of ``figure_names(result.experiment)``)."""
    draw = dict(_FIGURES.get(result.experiment, ())).get(name)
    if draw is None:
        raise ValueError(f"no figure {name!r} for experiment {result.experiment!r}; expected "
                         f"one of {figure_names(result.experiment)}")
    return draw(result)


def figures(result) -> dict[str, Figure]:
    """Every figure of ``result``, by name (the PNG file name without ``.png``)."""
    return {name: figure(result, name) for name in figure_names(result.experiment)}


def save_png(fig: Figure, path: str | os.PathLike) -> None:
    """Save ``fig`` as a PNG of exactly ``figsize × DPI`` pixels."""
    fig.savefig(path, format="png", dpi=DPI)
