"""dlkit.initializers: right spread, exact zeros/constants, randomness only from the Generator."""

import math

import numpy as np
import pytest

from dlkit.initializers import init_std, init_weight

N_IN, N_OUT = 400, 300  # 120 000 draws: the sample std is within ~0.2 % (1/sqrt(2n)) of sigma

EXPECTED_SIGMA = {
    "xavier": math.sqrt(1 / N_IN),
    "sigmoid": math.sqrt(1 / N_IN),
    "he": math.sqrt(2 / N_IN),
    "relu": math.sqrt(2 / N_IN),
    "glorot": math.sqrt(2 / (N_IN + N_OUT)),
    "xavier_uniform": math.sqrt(1 / N_IN),
    "he_uniform": math.sqrt(2 / N_IN),
    "glorot_uniform": math.sqrt(2 / (N_IN + N_OUT)),
    0.01: 0.01,
    1.0: 1.0,
}


@pytest.mark.parametrize("scheme", list(EXPECTED_SIGMA), ids=str)
def test_std_and_mean_match_the_scheme(scheme):
    W = init_weight(N_IN, N_OUT, scheme, np.random.default_rng(0))
    sigma = EXPECTED_SIGMA[scheme]
    assert W.shape == (N_IN, N_OUT) and W.dtype == np.float64
    assert init_std(N_IN, N_OUT, scheme) == pytest.approx(sigma, rel=1e-12)
    # sample std: standard error sigma/sqrt(2n) ~ 0.2 %; 1.5 % is > 7 standard errors
    assert W.std() == pytest.approx(sigma, rel=0.015)
    assert abs(W.mean()) < 5 * sigma / math.sqrt(W.size)


@pytest.mark.parametrize("scheme", ["xavier_uniform", "he_uniform", "glorot_uniform"])
def test_uniform_variants_are_uniform_with_the_same_variance(scheme):
    W = init_weight(N_IN, N_OUT, scheme, np.random.default_rng(1))
    a = math.sqrt(3) * EXPECTED_SIGMA[scheme]
    assert W.min() >= -a and W.max() <= a
    # uniform: each tenth of (-a, a) holds ~10 % of the draws (a normal would pile up mid-range)
    counts, _ = np.histogram(W, bins=10, range=(-a, a))
    assert np.all(np.abs(counts / W.size - 0.1) < 0.005)


def test_normal_variant_is_not_uniform():
    W = init_weight(N_IN, N_OUT, "he", np.random.default_rng(1))
    a = math.sqrt(3) * EXPECTED_SIGMA["he"]
    assert np.mean(np.abs(W) > a) > 0.05  # N(0, s^2) exceeds sqrt(3)s about 8 % of the time


def test_zeros_and_constants_are_exact():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert np.array_equal(init_weight(3, 4, "zeros", rng), np.zeros((3, 4)))
    assert np.array_equal(init_weight(3, 4, ("constant", 0.5), rng), np.full((3, 4), 0.5))
    assert np.array_equal(init_weight(3, 4, {"constant": -2}, rng), np.full((3, 4), -2.0))
    assert rng.bit_generator.state == state  # deterministic schemes draw nothing
    assert init_std(3, 4, ("constant", 0.5)) == 0.0


def test_same_seed_same_numbers_and_global_state_is_irrelevant():
    np.random.seed(1)
    a = init_weight(20, 30, "he", np.random.default_rng(42))
    np.random.seed(2)
    np.random.standard_normal(10)
    b = init_weight(20, 30, "he", np.random.default_rng(42))
    c = init_weight(20, 30, "he", np.random.default_rng(43))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_global_state_is_not_consumed():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    init_weight(20, 30, "xavier_uniform", np.random.default_rng(0))
    assert np.array_equal(np.random.get_state()[1], before)


def test_float32():
    W = init_weight(50, 60, "he", np.random.default_rng(0), dtype=np.float32)
    W64 = init_weight(50, 60, "he", np.random.default_rng(0))
    assert W.dtype == np.float32
    np.testing.assert_allclose(W, W64, rtol=1e-6)


@pytest.mark.parametrize(
    "args, exc, words",
    [
        ((0, 3, "he"), ValueError, ["n_in", "positive", "0"]),
        ((3, 2.0, "he"), TypeError, ["n_out", "float"]),
        ((3, 3, "kaiming"), ValueError, ["scheme", "'kaiming'", "'he'"]),
        ((3, 3, -0.1), ValueError, ["std", "-0.1"]),
        ((3, 3, float("nan")), ValueError, ["std", "nan"]),
        ((3, 3, [0.1]), TypeError, ["scheme", "list"]),
        ((3, 3, ("constant", "a")), TypeError, ["constant", "'a'"]),
        ((3, 3, ("constant", float("inf"))), ValueError, ["constant", "inf"]),
    ],
)
def test_bad_arguments_are_named(args, exc, words):
    with pytest.raises(exc) as info:
        init_weight(*args, rng=np.random.default_rng(0))
    for w in words:
        assert w in str(info.value)


def test_bad_rng_and_dtype():
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator.*int"):
        init_weight(3, 3, "he", 0)
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got int64"):
        init_weight(3, 3, "he", np.random.default_rng(0), dtype=np.int64)


@pytest.mark.parametrize("name, same_as", [("He", "he"), ("ReLU", "relu"), ("Xavier", "xavier"),
                                           ("SIGMOID", "sigmoid"), ("Zeros", "zeros"),
                                           ("He_Uniform", "he_uniform")])
def test_scheme_names_are_read_in_any_case_as_the_book_does(name, same_as):
    a = init_weight(5, 4, name, np.random.default_rng(3))
    b = init_weight(5, 4, same_as, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert init_std(5, 4, name) == init_std(5, 4, same_as)
