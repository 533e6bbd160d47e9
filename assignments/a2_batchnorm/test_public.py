"""Public tests for task 2 (BatchNormalization).  Run: pytest a2_batchnorm

A subset of what the grader checks: shapes, the statistics of the output, the running
averages, a small gradient check and one bad input.  Passing them is a good sign, not a
guarantee of full points.
"""

import numpy as np
import pytest

from dlkit.gradcheck import normwise_rel_error  # max|a − b| / max(1e-8, max(|a| + |b|))


@pytest.fixture
def BatchNormalization(load_module):
    return load_module("a2_batchnorm.batchnorm").BatchNormalization


def batch(N=64, D=5, seed=0):
    """A batch whose features have different means and scales."""
    rng = np.random.default_rng(seed)
    return rng.normal(loc=np.arange(D) - 2.0, scale=np.arange(1, D + 1), size=(N, D))


def numerical_gradient(f, a, h=1e-5):
    """d f / d a[i] ≈ (f(a + h e_i) − f(a − h e_i)) / 2h, changing a in place (then restoring)."""
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        f_plus = f()
        a[i] = old - h
        f_minus = f()
        a[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def test_forward_train_normalizes_each_feature(BatchNormalization):
    x = batch()
    out = BatchNormalization(np.ones(5), np.zeros(5)).forward(x, train_flg=True)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-4)  # 1 − O(eps / var)


def test_forward_train_scales_and_shifts(BatchNormalization):
    gamma = np.array([1.0, 2.0, 0.5, 3.0, 1.5])
    beta = np.array([0.0, -1.0, 2.0, 0.5, 4.0])
    out = BatchNormalization(gamma, beta).forward(batch(), train_flg=True)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-4)


def test_running_averages_after_one_training_step(BatchNormalization):
    x = batch()
    bn = BatchNormalization(np.ones(5), np.zeros(5), momentum=0.9)
    bn.forward(x, train_flg=True)
    # They start at zeros, so after one step they are (1 − momentum) × the batch statistics.
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.1 * x.var(axis=0), rtol=1e-12)  # biased: 1/N


def test_inference_uses_running_averages(BatchNormalization):
    x = batch(N=10)
    running_mean = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    running_var = np.array([4.0, 1.0, 0.25, 9.0, 16.0])
    gamma, beta = np.full(5, 2.0), np.full(5, 0.5)
    bn = BatchNormalization(gamma, beta, running_mean=running_mean.copy(),
                            running_var=running_var.copy(), eps=1e-5)
    out = bn.forward(x, train_flg=False)
    expected = gamma * (x - running_mean) / np.sqrt(running_var + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, running_mean)  # not updated at inference
    np.testing.assert_array_equal(bn.running_var, running_var)


def test_backward_gradient_check(BatchNormalization):
    rng = np.random.default_rng(1)
    x = batch(N=4, D=3, seed=2)
    gamma = rng.normal(size=3)
    beta = rng.normal(size=3)
    w = rng.normal(size=(4, 3))  # loss = Σ out · w, so dout = w
    bn = BatchNormalization(gamma, beta)

    def loss():
        return np.sum(bn.forward(x, train_flg=True) * w)

    loss()
    dx = bn.backward(w)
    assert dx.shape == x.shape and bn.dgamma.shape == (3,) and bn.dbeta.shape == (3,)
    assert normwise_rel_error(dx, numerical_gradient(loss, x)) < 1e-6
    assert normwise_rel_error(bn.dgamma, numerical_gradient(loss, gamma)) < 1e-6
    assert normwise_rel_error(bn.dbeta, numerical_gradient(loss, beta)) < 1e-6


def test_forward_and_backward_leave_inputs_unchanged(BatchNormalization):
    x = batch(N=8)
    dout = batch(N=8, seed=3)
    x_before, dout_before = x.copy(), dout.copy()
    bn = BatchNormalization(np.ones(5), np.zeros(5))
    bn.forward(x, train_flg=True)
    bn.backward(dout)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)


def test_batch_of_one_in_training_is_rejected(BatchNormalization):
    bn = BatchNormalization(np.ones(5), np.zeros(5))
    with pytest.raises(ValueError):
        bn.forward(np.ones((1, 5)), train_flg=True)
