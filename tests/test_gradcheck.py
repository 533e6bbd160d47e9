"""dlkit.gradcheck: central differences, normwise_rel_error, the layer/network checks."""

import numpy as np
import pytest

from dlkit.gradcheck import check_layer, check_network, normwise_rel_error, numerical_gradient
from dlkit.reference import layers as ref


def test_normwise_rel_error_formula():
    a = np.array([1.0, -2.0, 0.0])
    b = np.array([1.5, -2.0, 0.0])
    # max|a-b| = 0.5 ; max(|a|+|b|) = 4  (elementwise sum, then its maximum)
    assert normwise_rel_error(a, b) == 0.5 / 4
    assert normwise_rel_error(b, a) == normwise_rel_error(a, b)
    assert normwise_rel_error(np.zeros(3), np.zeros(3)) == 0.0
    # below the floor 1e-8 the denominator is 1e-8, not the tiny scale
    assert normwise_rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4)
    assert normwise_rel_error(3.0, 3.0) == 0.0
    with pytest.raises(ValueError, match=r"same shape, got \(3,\) and \(2,\)"):
        normwise_rel_error(a, b[:2])
    # not CS231n's elementwise rel_error: one entry where both are near 0 cannot blow it up
    c, d = np.array([1.0, 1e-12]), np.array([1.0, -1e-12])
    assert normwise_rel_error(c, d) < 1e-11
    assert np.max(np.abs(c - d) / np.maximum(1e-8, np.abs(c) + np.abs(d))) > 1e-5


def test_numerical_gradient_of_known_functions():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    g = numerical_gradient(lambda z: np.sum(z**3), x)
    assert normwise_rel_error(g, 3 * x0**2) < 1e-9
    assert np.array_equal(x, x0)  # every entry restored exactly
    A = rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    g = numerical_gradient(lambda z: z @ A @ z, v)
    assert normwise_rel_error(g, (A + A.T) @ v) < 1e-9


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.arange(3.0)

    def f(z):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    assert np.array_equal(x, np.arange(3.0))


def test_numerical_gradient_needs_float64():
    with pytest.raises(TypeError, match="x must be float64.*got float32"):
        numerical_gradient(np.sum, np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="x must be a numpy array, got list"):
        numerical_gradient(np.sum, [1.0, 2.0])


def test_check_layer_on_the_reference_layers():
    rng = np.random.default_rng(0)
    affine = ref.Affine(rng.standard_normal((5, 4)), rng.standard_normal(4))
    errs = check_layer(affine, rng.standard_normal((3, 5)), rng=1)
    assert set(errs) == {"x", "W", "b"}
    assert max(errs.values()) < 1e-8, errs
    bn = ref.BatchNormalization(rng.standard_normal(4) + 1, rng.standard_normal(4))
    x = 5 * rng.standard_normal((6, 4)) + 12
    x0 = x.copy()
    errs = check_layer(bn, x, rng=2, train_flg=True)
    assert set(errs) == {"x", "gamma", "beta"}
    assert max(errs.values()) < 1e-7, errs
    assert np.array_equal(x, x0)


class WrongAffine(ref.Affine):
    """dW off by a factor 2: the check must notice."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = 2 * self.dW
        return dx


def test_check_layer_catches_a_wrong_gradient():
    rng = np.random.default_rng(0)
    layer = WrongAffine(rng.standard_normal((5, 4)), rng.standard_normal(4))
    errs = check_layer(layer, rng.standard_normal((3, 5)), rng=1)
    assert errs["x"] < 1e-8 and errs["b"] < 1e-8
    assert errs["W"] == pytest.approx(1 / 3, rel=1e-6)  # |2g - g| / (|2g| + |g|)


def test_check_layer_rejects_a_dout_of_the_wrong_shape():
    layer = ref.Affine(np.ones((5, 4)), np.zeros(4))
    with pytest.raises(ValueError, match=r"dout must have the shape.*\(3, 4\), got \(3, 5\)"):
        check_layer(layer, np.ones((3, 5)), np.ones((3, 5)))


class TinyNet:
    """x·W → softmax cross-entropy; ``gradient`` optionally wrong in b."""

    def __init__(self, wrong_b=False):
        rng = np.random.default_rng(3)
        self.params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
        self.affine = ref.Affine(self.params["W"], self.params["b"])
        self.last = ref.SoftmaxWithLoss()
        self.wrong_b = wrong_b

    def loss(self, x, t, train_flg=False):
        return self.last.forward(self.affine.forward(x), t)

    def gradient(self, x, t):
        self.loss(x, t)
        self.affine.backward(self.last.backward())
        db = self.affine.db + (0.01 if self.wrong_b else 0.0)
        return {"W": self.affine.dW, "b": db}


def test_check_network_reports_the_worst_error_per_parameter():
    x = np.random.default_rng(4).standard_normal((5, 4))
    t = np.array([0, 2, 1, 1, 0])
    errs = check_network(TinyNet(), x, t)
    assert set(errs) == {"W", "b"} and max(errs.values()) < 1e-8, errs
    errs = check_network(TinyNet(wrong_b=True), x, t)
    assert errs["W"] < 1e-8 and errs["b"] > 1e-3, errs


def test_check_layer_on_the_numba_layers_with_reused_buffers():
    """dlkit.layers return their own buffers, overwritten by the next call: check_layer copies."""
    from dlkit import layers

    rng = np.random.default_rng(5)
    bn = layers.BatchNormalization(rng.standard_normal(4) + 1, rng.standard_normal(4))
    errs = check_layer(bn, 5 * rng.standard_normal((6, 4)) + 12, rng=2, train_flg=True)
    assert set(errs) == {"x", "gamma", "beta"} and max(errs.values()) < 1e-7, errs
    affine = layers.Affine(rng.standard_normal((5, 3)), rng.standard_normal(3))
    errs = check_layer(affine, rng.standard_normal((2, 5)), rng=3)
    assert set(errs) == {"x", "W", "b"} and max(errs.values()) < 1e-8, errs
