"""Public tests for task 1 (initial weights, activations).  Run: pytest a1_initialization

A subset of what the grader checks: shapes, the spread of each scheme, reproducibility, the
lesson's histograms in numbers, and one bad input.  Passing them is a good sign, not a
guarantee of full points.
"""

import numpy as np
import pytest


@pytest.fixture
def a1(load_module):
    return load_module("a1_initialization.initializers")


@pytest.mark.parametrize("scheme", ["zeros", 0.01, 1.0, "xavier", "he"])
def test_init_weight_shape_and_dtype(a1, scheme):
    W = a1.init_weight(30, 20, scheme, np.random.default_rng(0))
    assert isinstance(W, np.ndarray)
    assert W.shape == (30, 20)
    assert W.dtype == np.float64


def test_zeros_scheme_gives_zeros(a1):
    W = a1.init_weight(5, 4, "zeros", np.random.default_rng(0))
    np.testing.assert_array_equal(W, np.zeros((5, 4)))


@pytest.mark.parametrize(
    "scheme, sigma",
    [(0.01, 0.01), (1.0, 1.0), ("xavier", np.sqrt(1 / 100)), ("he", np.sqrt(2 / 100))],
)
def test_spread_of_each_scheme(a1, scheme, sigma):
    W = a1.init_weight(100, 1000, scheme, np.random.default_rng(1))
    # 100 000 draws: the sample std is within ~0.5 % of sigma; 3 % still tells √1 from √2.
    assert abs(W.std() / sigma - 1) < 0.03
    assert abs(W.mean()) < 0.03 * sigma


def test_weights_come_only_from_rng(a1):
    np.random.seed(0)
    W1 = a1.init_weight(10, 10, "he", np.random.default_rng(42))
    np.random.seed(1)  # the global state must not matter
    W2 = a1.init_weight(10, 10, "he", np.random.default_rng(42))
    W3 = a1.init_weight(10, 10, "he", np.random.default_rng(43))
    np.testing.assert_array_equal(W1, W2)
    assert not np.array_equal(W1, W3)


@pytest.mark.parametrize("scheme", ["glorot", "Xavier", -1.0])
def test_unknown_scheme_is_rejected(a1, scheme):
    with pytest.raises(ValueError):
        a1.init_weight(10, 10, scheme, np.random.default_rng(0))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_layer_activations_shapes_and_first_layer(a1, activation):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((20, 10))
    weights = [rng.standard_normal(shape) for shape in [(10, 8), (8, 6), (6, 4)]]
    zs = a1.layer_activations(x, weights, activation)
    assert [z.shape for z in zs] == [(20, 8), (20, 6), (20, 4)]
    a = x @ weights[0]
    f = {"sigmoid": lambda a: 1 / (1 + np.exp(-a)), "tanh": np.tanh,
         "relu": lambda a: np.maximum(a, 0)}[activation]
    np.testing.assert_allclose(zs[0], f(a), rtol=1e-12, atol=1e-15)


def test_spread_stats_small_example(a1):
    z = np.array([0.05, 0.5, 0.95, 0.0])
    stats = a1.spread_stats(z, "sigmoid")
    assert stats["mean"] == pytest.approx(0.375)
    assert stats["std"] == pytest.approx(np.std(z))
    assert stats["saturated"] == pytest.approx(0.75)  # 0.05, 0.95 and 0.0
    assert stats["zero"] == pytest.approx(0.25)
    assert a1.spread_stats(z, "relu")["saturated"] == 0.0


def lesson_network(a1, scheme, activation, seed=0):
    """The lesson's experiment: 1000 × 100 inputs ~ N(0, 1), 5 layers of 100 units."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1000, 100))
    weights = [a1.init_weight(100, 100, scheme, rng) for _ in range(5)]
    return a1.layer_activations(x, weights, activation)


def test_lesson_sigmoid_std_1_saturates(a1):
    last = a1.spread_stats(lesson_network(a1, 1.0, "sigmoid")[-1], "sigmoid")
    assert last["saturated"] > 0.5  # piles up at 0 and 1


def test_lesson_sigmoid_std_001_collapses_to_one_half(a1):
    last = a1.spread_stats(lesson_network(a1, 0.01, "sigmoid")[-1], "sigmoid")
    assert last["mean"] == pytest.approx(0.5, abs=0.01)
    assert last["std"] < 0.03  # ≈ 0.012: every unit says nearly the same (Xavier: ≈ 0.12)
    assert last["saturated"] == 0.0


def test_lesson_relu_he_keeps_the_spread(a1):
    zs = lesson_network(a1, "he", "relu")
    stds = [a1.spread_stats(z, "relu")["std"] for z in zs]
    assert max(stds) / min(stds) < 2  # the same order of spread in every layer
    assert a1.spread_stats(zs[-1], "relu")["zero"] == pytest.approx(0.5, abs=0.1)
