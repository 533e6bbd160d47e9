"""Public tests for task 4 (Numba kernels).  Run: pytest a4_numba

A subset of what the grader checks: the kernels are compiled with Numba, write into the
arrays they are given and return them, agree with the formulas in float64 and float32, pass
a small gradient check and reject a batch of one.  Speed is not tested here (the grader
times it; the README shows how to time it yourself).  The first run compiles the kernels,
which takes a few seconds.
"""

import numpy as np
import pytest
from numba.core.dispatcher import Dispatcher


@pytest.fixture
def a4(load_module):
    return load_module("a4_numba.kernels")


def forward(a4, x, gamma, beta, eps=1e-5):
    """Call the forward kernel with fresh outputs; returns (returned, out, xhat, mean, invstd)."""
    N, D = x.shape
    out, xhat = np.full((N, D), np.nan, x.dtype), np.full((N, D), np.nan, x.dtype)
    mean, invstd = np.full(D, np.nan, x.dtype), np.full(D, np.nan, x.dtype)
    returned = a4.batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd)
    return returned, out, xhat, mean, invstd


def backward(a4, dout, xhat, gamma, invstd):
    """Call the backward kernel with fresh output arrays; returns (returned, dx, dgamma, dbeta)."""
    N, D = dout.shape
    dx = np.full((N, D), np.nan, dout.dtype)
    dgamma, dbeta = np.full(D, np.nan, dout.dtype), np.full(D, np.nan, dout.dtype)
    returned = a4.batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta)
    return returned, dx, dgamma, dbeta


def problem(N=16, D=7, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=3.0, scale=2.0, size=(N, D)).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, size=D).astype(dtype)
    beta = rng.normal(size=D).astype(dtype)
    dout = rng.normal(size=(N, D)).astype(dtype)
    return x, gamma, beta, dout


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_forward_writes_the_formulas(a4, dtype, rtol):
    x, gamma, beta, _ = problem(dtype=dtype)
    returned, out, xhat, mean, invstd = forward(a4, x, gamma, beta)
    assert returned is out, "return the out array you were given"
    assert isinstance(a4.batchnorm_forward_train, Dispatcher), "compile it with @numba.njit"
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=0)
    var = x64.var(axis=0)  # biased: 1/N
    expected_xhat = (x64 - mu) / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(mean, mu, rtol=rtol)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(var + 1e-5), rtol=rtol)
    np.testing.assert_allclose(xhat, expected_xhat, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(out, gamma * expected_xhat + beta, rtol=rtol, atol=rtol)
    assert out.dtype == dtype and xhat.dtype == dtype


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_backward_writes_the_formulas(a4, dtype, rtol):
    x, gamma, beta, dout = problem(dtype=dtype)
    _, _, xhat, _, invstd = forward(a4, x, gamma, beta)
    returned, dx, dgamma, dbeta = backward(a4, dout, xhat, gamma, invstd)
    assert returned is dx, "return the dx array you were given"
    assert isinstance(a4.batchnorm_backward, Dispatcher), "compile it with @numba.njit"
    N = x.shape[0]
    d, h = dout.astype(np.float64), xhat.astype(np.float64)
    expected_dbeta = d.sum(axis=0)
    expected_dgamma = (d * h).sum(axis=0)
    expected_dx = gamma * invstd / N * (N * d - expected_dbeta - h * expected_dgamma)
    np.testing.assert_allclose(dbeta, expected_dbeta, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dgamma, expected_dgamma, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dx, expected_dx, rtol=rtol, atol=rtol)


def test_backward_gradient_check(a4):
    x, gamma, beta, w = problem(N=4, D=3, seed=1)  # loss = Σ out · w, so dout = w

    def loss(x):
        return np.sum(forward(a4, x, gamma, beta)[1] * w)

    _, _, xhat, _, invstd = forward(a4, x, gamma, beta)
    _, dx, _, _ = backward(a4, w, xhat, gamma, invstd)
    h = 1e-5
    numerical = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        numerical[i] = (loss(x + step) - loss(x - step)) / (2 * h)
    assert np.max(np.abs(dx - numerical)) / np.max(np.abs(dx) + np.abs(numerical)) < 1e-6


def test_batch_of_one_is_rejected(a4):
    x, gamma, beta, _ = problem(N=1)
    with pytest.raises(ValueError):
        forward(a4, x, gamma, beta)


def _prange_element_updates(source):
    """Lines that add into an array element inside a numba.prange loop with an index that
    does not use the loop's variable, e.g. ``dgamma[d] += ...`` in ``for n in prange(N)``:
    two threads can add into that entry at once, and one addition is lost (a data race)."""
    import ast

    found = []
    for loop in ast.walk(ast.parse(source)):
        if not (isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call)
                and getattr(loop.iter.func, "id", getattr(loop.iter.func, "attr", "")) == "prange"):
            continue
        variable = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
        local = {t.id for node in ast.walk(loop) if isinstance(node, ast.Assign)
                 for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(loop):
            target = getattr(node, "target", None) if isinstance(node, ast.AugAssign) else None
            if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                    and target.value.id not in local
                    and not {n.id for n in ast.walk(target.slice)
                             if isinstance(n, ast.Name)} & (variable | local)):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_same_results_on_several_threads(a4):
    """With numba.prange the kernels run on several threads: the same call must give the same
    numbers every time (the grader runs them on 2 threads), and no prange loop may add into a
    shared array element (a race that shows only when two threads run at the same moment)."""
    import inspect

    import numba

    races = _prange_element_updates(inspect.getsource(a4))
    assert not races, f"a data race between the threads of a prange loop: {races}"
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    x, gamma, beta, dout = problem(N=1024, D=16, seed=2)
    _, _, xhat, mean, invstd = forward(a4, x, gamma, beta)
    first = backward(a4, dout, xhat, gamma, invstd)[1:]
    for _ in range(10):
        again = backward(a4, dout, xhat, gamma, invstd)[1:]
        for name, a, b in zip(("dx", "dgamma", "dbeta"), first, again, strict=True):
            assert np.array_equal(a, b), f"{name} differs from run to run: a race between threads?"
