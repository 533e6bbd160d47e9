"""Every figure renders to a PNG of the expected size with something drawn on it.

Results come from tiny runs on synthetic arrays (the figures do not depend on the data);
the figures of real runs are looked at by eye in dlkit reproduce's output.
"""

import struct

import matplotlib.image
import numpy as np
import pytest
from matplotlib.colors import to_hex, to_rgb
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
    "overfitting": (14, 6),
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


def test_a_seed_that_never_reached_is_drawn_as_never_not_averaged(results):
    """Seed 0 reaches the target at every rate, seed 1 never at the second: the mean line
    has no point there (not the mean of 20 and 'never'), seed 0's count is a dot, and
    seed 1 an ✕ on the 'never' row."""
    r = Result.from_json(results["batchnorm_speed"].to_json())
    steps = np.array([[20.0, 30.0, 40.0, 50.0], [20.0, np.inf, 40.0, 50.0]])
    r.data["batchnorm"]["steps_to_target"] = steps
    fig = plots.plot_batchnorm_speed(r)
    ax = fig.axes[0]
    never = 1.15 * r.settings["epochs"] * r.settings["iter_per_epoch"]
    mean = next(line for line in ax.get_lines() if line.get_label() == "with BatchNorm")
    y = np.asarray(mean.get_ydata(), dtype=float)
    assert np.isnan(y[1]) and y[[0, 2, 3]].tolist() == [20.0, 40.0, 50.0]
    lrs = np.asarray(r.data["lrs"])
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"
               and line.get_color() == plots.BN_COLOR]
    assert len(crosses) == 1
    assert np.allclose(crosses[0].get_ydata(), [never])
    assert np.allclose(crosses[0].get_xdata(), [lrs[1] * 0.92])
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"
            and line.get_color() == plots.BN_COLOR]
    assert sorted(len(line.get_xdata()) for line in dots) == [3, 4]  # seed 1 misses one


def _colors_by_label(fig):
    out = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            label = line.get_label()
            if not label.startswith("_"):
                out[label.split(" (")[0]] = to_hex(line.get_color())
    return out


def test_each_initializer_has_one_colour_in_every_figure(results):
    he, xavier, small = (plots.init_color(w) for w in ("he", "xavier", 0.01))
    assert len({he, xavier, small, plots.init_color(1.0), plots.BN_COLOR,
                plots.PLAIN_COLOR}) == 6
    compare = _colors_by_label(plots.plot_init_compare(results["init_compare"]))
    assert (compare["He"], compare["Xavier"], compare["std=0.01"]) == (he, xavier, small)
    activations = plots.plot_init_activations(results["init_activations"])
    for ax in activations.axes[1:]:
        colours = {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()}
        assert (colours["He"], colours["Xavier"], colours["std=0.01"]) == (he, xavier, small)
    gradients = plots.plot_gradient_flow(results["gradient_flow"])
    for ax in gradients.axes[:3]:
        for text, handle in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles,
                                strict=True):
            expected = {"He": he, "Xavier": xavier, "σ=0.01": small,
                        "σ=1": plots.init_color(1.0)}[text.get_text()]
            assert to_hex(handle.get_color()) == expected
    hist = plots.plot_activation_histograms(results["activation_histograms"])
    rows = [c["weight_init"] for c in results["activation_histograms"].data["configs"].values()]
    for row, w in enumerate(rows):  # the first panel of each row
        patch = hist.axes[row * 5].patches[0]
        assert to_hex(patch.get_facecolor()) == plots.init_color(w)
    # with BatchNorm a darker shade of the initializer's colour, with weight decay a lighter
    dark, light = plots.init_color("he", use_batchnorm=True), plots.init_color("he",
                                                                              weight_decay=0.1)
    assert sum(to_rgb(dark)) < sum(to_rgb(he)) < sum(to_rgb(light))


def _outside(fig, text):
    """How far (pixels) ``text`` reaches beyond the figure's edges, after drawing."""
    fig.canvas.draw()
    box = text.get_window_extent(renderer=fig.canvas.get_renderer())
    width, height = fig.canvas.get_width_height()
    return max(0.0, -box.x0, box.x1 - width, -box.y0, box.y1 - height)


@pytest.mark.parametrize("experiment", ["init_compare", "batchnorm_compare", "symmetry",
                                        "gradient_flow", "init_activations",
                                        "batchnorm_speed", "overfitting"])
def test_titles_fit_the_figure_whatever_the_dataset_name(results, experiment):
    r = Result.from_json(results[experiment].to_json())
    r.settings["dataset"] = ("the MNIST test digits: the first 8000 of t10k as training data "
                             "and the last 2000 as test data, normalized to [0, 1]")
    for name, fig in plots.figures(r).items():
        texts = [t for t in fig.texts if t.get_text() and t.get_text() == fig.get_suptitle()]
        texts += [ax.title for ax in fig.axes if ax.get_title()]
        assert texts, name
        for text in texts:
            assert _outside(fig, text) == 0, (name, text.get_text())
        assert "MNIST test digits" in " ".join(t.get_text() for t in texts).replace("\n", " ")


@pytest.mark.parametrize("name", ["init_compare", "init_activations", "symmetry"])
def test_the_chance_line_is_drawn_over_the_curves(results, name):
    """ln 10 is where a network that does not learn sits: the line is drawn above the
    curves (a higher zorder), in black, and labelled."""
    experiment = {"init_compare": "init_compare", "init_activations": "init_activations",
                  "symmetry": "symmetry"}[name]
    fig = plots.figure(results[experiment], name)
    chance = [line for ax in fig.axes for line in ax.get_lines()
              if np.allclose(line.get_ydata(), np.log(10))]
    assert chance
    for line in chance:
        curves = [other.get_zorder() for other in line.axes.get_lines() if other is not line]
        assert line.get_zorder() > max(curves) and to_hex(line.get_color()) == "#000000"
    assert any(t.get_text().startswith("ln 10") for ax in fig.axes for t in ax.texts)
