"""The lab notebooks' figures: the student's numbers drawn beside dlkit's.

Each function returns a :class:`matplotlib.figure.Figure` (no pyplot state); a notebook shows
it with ``display(fig)``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["DIVERGED", "histograms_beside", "before_after", "training_curves"]

#: A cross-entropy loss above this has diverged (ln 10 ≈ 2.3 is chance for 10 classes).
DIVERGED = 1e3


def _figure(width: float, height: float,
            layout: Literal["constrained"] | None = "constrained") -> Figure:
    """A Figure on an Agg canvas (grids of many panels place them without a layout solver,
    which would double their drawing time)."""
    fig = Figure(figsize=(width, height), dpi=80, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def histograms_beside(yours: dict, reference) -> Figure:
    """One row per configuration, one panel per layer: the histogram of the student's
    activations (bars) with dlkit's (black line), over the same bins.

    yours: {configuration name: [z of layer 1, ..., z of layer L]} (the student's
    ``layer_activations``); reference: the Result of
    :func:`dlkit.experiments.histograms.activation_histograms` for the same seed.
    """
    configs = reference.data["configs"]
    names = [name for name in configs if name in yours]
    layers = reference.settings["hidden_layer_size"]
    width, height = 2.2 * layers + 0.4, 1.6 * len(names) + 0.6
    fig = _figure(width, height, layout=None)
    fig.subplots_adjust(left=0.9 / width, right=1 - 0.1 / width, bottom=0.3 / height,
                        top=1 - 0.75 / height, wspace=0.35, hspace=0.5)
    axes = fig.subplots(len(names), layers, squeeze=False)
    for row, name in enumerate(names):
        edges = configs[name]["edges"]
        for layer in range(layers):
            ax = axes[row, layer]
            z = np.asarray(yours[name][layer]) if layer < len(yours[name]) else np.array([])
            mine, theirs = np.histogram(z, bins=edges)[0], configs[name]["hist"][0, layer]
            ax.stairs(mine, edges, fill=True, color="tab:blue", alpha=0.6, label="yours")
            ax.stairs(theirs, edges, color="black", linewidth=1, label="dlkit")
            if configs[name]["activation"] == "relu":  # as the book: cut the bin of zeros
                top = max(mine[1:].max(), theirs[1:].max())
                if top > 0:
                    ax.set_ylim(0, 1.25 * top)
            ax.set_title(f"layer {layer + 1}", fontsize=8)
            ax.tick_params(labelsize=6)
            if layer == 0:
                ax.set_ylabel(name, fontsize=8)
    axes[0, -1].legend(fontsize=7)
    fig.suptitle("Activation histograms: yours (bars) and dlkit's (line)", fontsize=10)
    return fig


def before_after(x, out) -> Figure:
    """Histograms of a layer's input x and of BatchNorm's output, over all features, with
    the per-feature means and standard deviations of each."""
    fig = _figure(8, 3)
    for ax, values, title in zip(fig.subplots(1, 2), (x, out), ("before BatchNorm (x)",
                                                              "after BatchNorm (out)"),
                                 strict=True):
        values = np.asarray(values, dtype=np.float64)
        ax.hist(values.ravel(), bins=50, color="tab:blue")
        mu, sd = values.mean(axis=0), values.std(axis=0)
        ax.set_title(f"{title}\nfeature means {mu.min():.2f}…{mu.max():.2f}, "
                     f"stds {sd.min():.2f}…{sd.max():.2f}", fontsize=9)
    return fig


def training_curves(runs: dict) -> Figure:
    """One panel per weight scale: the training loss per step with and without BatchNorm.

    runs: {(weight_scale, use_batchnorm): list of losses per step}.  Losses that are not
    finite or above :data:`DIVERGED` are left out, and the curve's label says "diverged".
    """
    scales = sorted({scale for scale, _ in runs}, reverse=True)
    fig = _figure(3.2 * len(scales), 3)
    for ax, scale in zip(fig.subplots(1, len(scales), squeeze=False)[0], scales, strict=True):
        for use_bn, style in ((True, "-"), (False, "--")):
            loss = runs.get((scale, use_bn))
            if loss is None or not len(loss):
                continue
            loss = np.asarray(loss, dtype=np.float64)
            # a run that diverged (overflow, NaN) would squash the other curve: cut it off
            kept = np.isfinite(loss) & (loss < DIVERGED)
            label = "with BatchNorm" if use_bn else "without"
            ax.plot(np.where(kept, loss, np.nan), style,
                    label=label if kept.all() else f"{label} (diverged)")
        ax.set_title(f"weight scale {scale:g}", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7)
    fig.axes[0].set_ylabel("training loss", fontsize=8)
    return fig
