"""Every figure renders to a PNG of the expected size with something drawn on it.

Results come from tiny runs on synthetic arrays (the figures do not depend on the data);
the figures of real runs are looked at by eye in dlkit reproduce's output.
"""

import struct

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

from dlkit import plots
from dlkit.experiments.batchnorm_compare import batchnorm_compare
from dlkit.experiments.batchnorm_speed import batchnorm_speed
from dlkit.experiments.gradient_flow import gradient_flow
from dlkit.experiments.histograms import DEFAULT_CONFIGS as HISTOGRAM_CONFIGS
from dlkit.experiments.histograms import activation_histograms
from dlkit.experiments.init_activations import init_activations
from dlkit.experiments.init_compare import init_compare
from dlkit.experiments.overfitting import overfitting
from dlkit.experiments.results import Result
from dlkit.experiments.symmetry import symmetry


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", head[16:24])  # IHDR width, height


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((10, 30))
    t = rng.integers(0, 10, 600)
    x = centers[t] + 0.5 * rng.standard_normal((600, 30))
    return x, t


@pytest.fixture(scope="module")
def results(data):
    x, t = data
    return {
        "activation_histograms": activation_histograms(seeds=[0, 1]),
        "init_compare": init_compare(x, t, x[:100], t[:100], iterations=40, batch_size=32,
                                     hidden_size_list=[20, 20], seeds=[0, 1]),
        "batchnorm_compare": batchnorm_compare(x, t, x[:100], t[:100], train_size=200,
                                               hidden_size_list=[20, 20], epochs=2,
                                               seeds=[0, 1]),
        "symmetry": symmetry(x, t, hidden_size_list=[8, 8], steps=5, seeds=[0, 1]),
        "gradient_flow": gradient_flow(x, t, configs=HISTOGRAM_CONFIGS,  # with tanh
                                       hidden_size_list=[20, 20, 20], steps=5, probe_size=100,
                                       seeds=[0, 1]),
        "init_activations": init_activations(x, t, x[:100], t[:100], iterations=40,
                                             batch_size=32, hidden_size_list=[20, 20],
                                             seeds=[0, 1]),
        "batchnorm_speed": batchnorm_speed(x, t, lrs=[0.01, 0.1, 1.0, 3.0], train_size=200,
                                           hidden_size_list=[20, 20], epochs=3, seeds=[0, 1],
                                           target_acc=0.5),
        "overfitting": overfitting(x, t, x[:100], t[:100], train_size=100,
                                   hidden_size_list=[20, 20], epochs=6, eval_every=2,
                                   seeds=[0, 1]),
    }


# figure name -> figsize in inches as drawn by dlkit.plots (7 configurations × 5 layers, ...)
EXPECTED_INCHES = {
    "activation_histograms": (2.4 * 5 + 0.6, 1.9 * 7 + 0.8),
    "init_compare": (8, 5.5),
    "batchnorm_grid": (3.0 * 4, 2.5 * 4 + 0.6),
    "batchnorm_summary": (8, 5.5),
    "symmetry": (12, 5),
    "gradient_flow": (4.6 * 3 + 0.4, 9.0),  # one column per activation: sigmoid, tanh, ReLU
    "init_activations": (5 + 4.6 * 2, 5),  # the table and one panel per activation
    "batchnorm_speed": (4.2 + 3.2 * 2, 7.4),  # 4 learning rates: 2 columns of 2
    "overfitting": (13, 5.5),
}


@pytest.mark.parametrize("experiment", ["activation_histograms", "init_compare",
                                        "batchnorm_compare", "symmetry", "gradient_flow",
                                        "init_activations", "batchnorm_speed", "overfitting"])
def test_each_figure_is_a_non_empty_png_of_the_expected_size(results, experiment, tmp_path):
    figs = plots.figures(results[experiment])
    assert figs and all(isinstance(f, Figure) for f in figs.values())
    for name, fig in figs.items():
        path = tmp_path / f"{name}.png"
        plots.save_png(fig, path)
        w, h = EXPECTED_INCHES[name]
        assert _png_size(path) == (round(w * plots.DPI), round(h * plots.DPI)), name
        pixels = matplotlib.image.imread(path)[..., :3]
        # drawn, not blank: a good share of the pixels is not white, and there are colours
        assert (pixels.min(axis=2) < 0.9).mean() > 0.03, name
        rgb = (pixels * 255).astype(np.uint32)
        colours = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])
        assert len(colours) > 50, name
        # titles and axis labels are set on every visible panel's figure
        assert fig.get_suptitle() or any(ax.get_title() for ax in fig.axes), name
        visible = [ax for ax in fig.axes if ax.get_visible()]
        assert any(ax.get_xlabel() for ax in visible) and any(ax.get_ylabel() for ax in visible)


def test_line_figures_have_a_legend_naming_each_configuration(results):
    fig = plots.plot_init_compare(results["init_compare"])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    for scheme in ("std=0.01", "Xavier", "He"):
        assert any(label.startswith(scheme) for label in labels), labels
    fig = plots.plot_batchnorm_summary(results["batchnorm_compare"])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("with BatchNorm" in s for s in labels) and any("without BN" in s for s in labels)


def test_the_band_spans_the_seeds(results):
    # two seeds: the shaded band (a PolyCollection) is drawn; the line is their mean
    fig = plots.plot_init_compare(results["init_compare"])
    assert len(fig.axes[0].collections) == 3  # one band per scheme
    one = Result.from_json(results["init_compare"].to_json())
    for d in one.data["schemes"].values():
        d["loss"] = d["loss"][:1]
        d["test_acc"] = d["test_acc"][:1]
    one.seeds = one.seeds[:1]
    assert len(plots.plot_init_compare(one).axes[0].collections) == 0  # one seed: no band


def test_smooth_curve_is_the_books():
    x = np.r_[np.zeros(20), np.ones(20)]
    y = plots.smooth_curve(x)
    assert y.shape == x.shape
    assert y[0] == pytest.approx(0) and y[-1] == pytest.approx(1)
    assert np.all(np.diff(y) >= -1e-12)  # a step stays monotone, only softened
    assert 0 < y[19] < 0.5 < y[20] < 1


def test_no_figure_for_an_unknown_experiment():
    with pytest.raises(ValueError, match="no figures for experiment 'other'"):
        plots.figures(Result("other", {}, [0], {}))


def test_gradient_figure_has_a_log_panel_per_activation(results):
    fig = plots.plot_gradient_flow(results["gradient_flow"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["sigmoid", "tanh", "ReLU"]
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    legend = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert legend == ["σ=0.01", "Xavier", "He"]  # ReLU's three initial scales


def test_speed_figure_shows_never_reached_on_its_own_tick(results):
    r = results["batchnorm_speed"]
    fig = plots.plot_batchnorm_speed(r)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[-1] == "never"
    assert len(fig.axes) == 2 + len(r.data["lrs"])  # two summaries, a panel per rate
