"""dlkit.layers: the book's API on the kernels — gradients, BatchNorm semantics, validation."""

import numpy as np
import pytest

from dlkit import layers as L
from dlkit.gradcheck import normwise_rel_error as rel_error
from dlkit.gradcheck import numerical_gradient
from dlkit.reference import layers as ref


def scalar_loss(layer, x, dout, **kw):
    """L(x) = Σ dout ⊙ layer.forward(x): its gradient is what layer.backward(dout) returns."""
    return lambda _: float(np.sum(layer.forward(x, **kw) * dout))


# ---------------------------------------------------------------- gradient checks (float64)
# With N = 2, xhat = ±√(var/(var + eps)) hardly depends on x: dx is O(eps/var) and a central
# difference cannot resolve 1e-7 of it unless eps is comparable to var, hence eps = 1 there.
@pytest.mark.parametrize("N, eps", [(2, 1.0), (3, 1e-5), (16, 1e-5)])
def test_batchnorm_gradients_match_central_differences(N, eps):
    rng = np.random.default_rng(10 + N)
    D = 7
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma = rng.standard_normal(D)
    beta = rng.standard_normal(D)
    dout = rng.standard_normal((N, D))  # random: an all-ones dout makes dx vanish
    bn = L.BatchNormalization(gamma, beta, eps=eps)
    bn.forward(x, train_flg=True)
    dx = bn.backward(dout).copy()
    dgamma, dbeta = bn.dgamma.copy(), bn.dbeta.copy()

    f = scalar_loss(bn, x, dout, train_flg=True)
    assert rel_error(dx, numerical_gradient(f, x)) < 1e-7
    assert rel_error(dgamma, numerical_gradient(f, gamma)) < 1e-7
    assert rel_error(dbeta, numerical_gradient(f, beta)) < 1e-7
    assert np.abs(dx).max() > 1e-3  # a vanishing dx would pass the checks above trivially


def test_batchnorm_gradient_check_catches_a_wrong_dx():
    """The same check fails for the naive dx = gamma·invstd·dout (mean/var paths ignored)."""
    rng = np.random.default_rng(3)
    x = 5 * rng.standard_normal((8, 4)) + 12
    gamma, beta, dout = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal((8, 4))
    bn = L.BatchNormalization(gamma, beta)
    bn.forward(x)
    naive = gamma / bn.std * dout
    assert rel_error(naive, numerical_gradient(scalar_loss(bn, x, dout), x)) > 1e-2


@pytest.mark.parametrize("shape", [(1, 6), (4, 3, 2)])
def test_affine_gradients_match_central_differences(shape):
    rng = np.random.default_rng(11)
    D, M = int(np.prod(shape[1:])), 5
    x = rng.standard_normal(shape)
    W, b = rng.standard_normal((D, M)), rng.standard_normal(M)
    dout = rng.standard_normal((shape[0], M))
    layer = L.Affine(W, b)
    layer.forward(x)
    dx = layer.backward(dout).copy()
    assert dx.shape == x.shape
    f = scalar_loss(layer, x, dout)
    assert rel_error(dx, numerical_gradient(f, x)) < 1e-8
    assert rel_error(layer.dW.copy(), numerical_gradient(f, W)) < 1e-8
    assert rel_error(layer.db.copy(), numerical_gradient(f, b)) < 1e-8


@pytest.mark.parametrize("shape", [(1, 6), (4, 3, 2)])
def test_affine_backward_params_gives_dW_db_of_backward_without_dx(shape):
    rng = np.random.default_rng(13)
    D, M = int(np.prod(shape[1:])), 5
    x, dout = rng.standard_normal(shape), rng.standard_normal((shape[0], M))
    full = L.Affine(rng.standard_normal((D, M)), rng.standard_normal(M))
    params_only = L.Affine(full.W, full.b)
    with pytest.raises(RuntimeError, match="before Affine.forward"):
        params_only.backward_params(dout)
    full.forward(x)
    full.backward(dout)
    params_only.forward(x)
    dW, db = params_only.backward_params(dout)
    assert dW is params_only.dW and db is params_only.db
    np.testing.assert_array_equal(dW, full.dW)
    np.testing.assert_array_equal(db, full.db)
    assert params_only.state.dx is None  # no dx array made, no dout·Wᵀ computed
    with pytest.raises(ValueError, match="dout must have the shape"):
        params_only.backward_params(dout[:, :3])


@pytest.mark.parametrize("Layer", [L.Relu, L.Sigmoid, L.Tanh])
def test_activation_gradients_match_central_differences(Layer):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 4, 2))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink, where a central difference lies
    dout = rng.standard_normal(x.shape)
    layer = Layer()
    layer.forward(x)
    dx = layer.backward(dout).copy()
    assert rel_error(dx, numerical_gradient(scalar_loss(layer, x, dout), x)) < 1e-8


@pytest.mark.parametrize("labels", ["int", "onehot"])
def test_softmax_with_loss_gradient_matches_central_differences(labels):
    rng = np.random.default_rng(13)
    x = 3 * rng.standard_normal((5, 4))
    t = rng.integers(0, 4, 5)
    if labels == "onehot":
        t = np.eye(4)[t]
    layer = L.SoftmaxWithLoss()
    layer.forward(x, t)
    dx = layer.backward(2.5).copy()  # a scalar upstream gradient scales dx
    num = numerical_gradient(lambda _: 2.5 * layer.forward(x, t), x)
    assert rel_error(dx, num) < 1e-8


def _book_cross_entropy(y, t):
    """The book's common/functions.py cross_entropy_error, restated: one-hot as argmax,
    −Σ log(y[t] + 1e-7) / N."""
    if t.size == y.size:
        t = t.argmax(axis=1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), t] + 1e-7)) / y.shape[0]


@pytest.mark.parametrize("labels", ["int", "onehot"])
@pytest.mark.parametrize("module", [L, ref], ids=["numba", "reference"])
def test_softmax_with_loss_is_exact_by_default_and_the_books_with_eps(module, labels):
    """A confidently wrong sample: the exact cross-entropy is its full −log y (≈ 40 here);
    the book's −log(y + 1e-7) caps it at 16.1. eps=1e-7 gives the book's number, the
    default the exact one; the gradient is y − t either way."""
    x = np.array([[40.0, 0.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.0, 3.0]])
    t = np.array([1, 1, 2])
    if labels == "onehot":
        t = np.eye(3)[t]
    exact, book = module.SoftmaxWithLoss(), module.SoftmaxWithLoss(eps=1e-7)
    loss_exact, loss_book = exact.forward(x, t), book.forward(x, t)
    y = np.exp(x - x.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    assert loss_book == pytest.approx(_book_cross_entropy(y, t), rel=1e-13)
    first = 40.0 + np.log(1 + 2 * np.exp(-40.0))  # −log y[0, 1], exactly
    rest = -np.log(y[1, 1]) - np.log(y[2, 2])
    assert loss_exact == pytest.approx((first + rest) / 3, rel=1e-13)
    assert loss_book == pytest.approx((-np.log(1e-7) + rest) / 3, rel=1e-6)  # 16.1 + rest
    assert loss_exact - loss_book > 7  # (40 − 16.1) / 3
    np.testing.assert_array_equal(exact.backward(1), book.backward(1))


def test_softmax_with_loss_eps_is_checked():
    with pytest.raises(ValueError, match="SoftmaxWithLoss: eps must be a number >= 0, got -1"):
        L.SoftmaxWithLoss(eps=-1)


def test_a_network_with_the_books_loss_prints_the_books_numbers():
    """net.last_layer = SoftmaxWithLoss(eps=1e-7): the loss a book script prints."""
    from dlkit.network import MultiLayerNet

    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    net = MultiLayerNet(5, [6], 3, seed=0)
    exact = net.loss(x, t)
    grads = {k: v.copy() for k, v in net.gradient(x, t).items()}
    net.last_layer = L.SoftmaxWithLoss(eps=1e-7)
    y = np.exp(net.predict(x))
    y /= y.sum(axis=1, keepdims=True)
    assert net.loss(x, t) == pytest.approx(_book_cross_entropy(y, t), rel=1e-13)
    assert net.loss(x, t) != exact and abs(net.loss(x, t) - exact) < 1e-5
    for k, g in net.gradient(x, t).items():
        np.testing.assert_array_equal(g, grads[k], err_msg=k)


# ---------------------------------------------------------------- BatchNorm semantics
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batchnorm_training_output_has_mean_beta_and_std_gamma(dtype):
    rng = np.random.default_rng(14)
    x = (5 * rng.standard_normal((256, 10)) + 12).astype(dtype)
    gamma = rng.uniform(0.5, 3.0, 10).astype(dtype)
    beta = rng.standard_normal(10).astype(dtype)
    out = L.BatchNormalization(gamma, beta).forward(x)
    assert out.dtype == dtype
    tol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out.mean(axis=0, dtype=np.float64), beta, atol=tol * 10)
    # std(out) = gamma·√(var/(var + eps)) with var ≈ 25, eps = 1e-5: gamma to within 2e-7
    np.testing.assert_allclose(out.std(axis=0, dtype=np.float64), gamma, rtol=1e-6 + tol)


def test_batchnorm_inference_uses_running_statistics_and_leaves_them_alone():
    rng = np.random.default_rng(15)
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    rm, rv = rng.standard_normal(6), rng.uniform(0.5, 2.0, 6)
    bn = L.BatchNormalization(gamma, beta, running_mean=rm, running_var=rv, eps=1e-3)
    x = 3 * rng.standard_normal((4, 6)) + 1
    out = bn.forward(x, train_flg=False)
    np.testing.assert_allclose(out, gamma * (x - rm) / np.sqrt(rv + 1e-3) + beta, rtol=1e-13)
    np.testing.assert_array_equal(bn.running_mean, rm)
    np.testing.assert_array_equal(bn.running_var, rv)
    assert bn.running_mean is not rm  # the layer updates its own copy, never the caller's
    # a single sample is fine at inference
    one = bn.forward(x[:1], train_flg=False)
    np.testing.assert_allclose(one, gamma * (x[:1] - rm) / np.sqrt(rv + 1e-3) + beta)


def test_batchnorm_running_update_follows_the_momentum_formula():
    rng = np.random.default_rng(16)
    gamma, beta = np.ones(3), np.zeros(3)
    bn = L.BatchNormalization(gamma, beta, momentum=0.8)
    x1, x2 = 2 * rng.standard_normal((10, 3)) + 4, rng.standard_normal((7, 3)) - 1
    bn.forward(x1)
    np.testing.assert_allclose(bn.running_mean, 0.2 * x1.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.2 * x1.var(axis=0), rtol=1e-10)
    bn.forward(x2)
    np.testing.assert_allclose(
        bn.running_mean, 0.8 * 0.2 * x1.mean(axis=0) + 0.2 * x2.mean(axis=0), rtol=1e-12
    )
    np.testing.assert_allclose(
        bn.running_var, 0.8 * 0.2 * x1.var(axis=0) + 0.2 * x2.var(axis=0), rtol=1e-10
    )


def test_batchnorm_matches_the_book_over_a_few_steps_with_4d_input():
    rng = np.random.default_rng(17)
    gamma, beta = rng.standard_normal(12), rng.standard_normal(12)
    ours, book = L.BatchNormalization(gamma, beta), ref.BatchNormalization(gamma, beta)
    for _ in range(3):
        x = rng.standard_normal((5, 3, 2, 2))
        dout = rng.standard_normal(x.shape)
        np.testing.assert_allclose(ours.forward(x), book.forward(x), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(ours.backward(dout), book.backward(dout), atol=1e-12)
    np.testing.assert_allclose(ours.running_var, book.running_var, rtol=1e-12)
    np.testing.assert_allclose(ours.forward(x, False), book.forward(x, False), rtol=1e-12)


# ---------------------------------------------------------------- the rest of the API
def test_dropout_same_seed_same_mask_as_reference_and_scaling():
    x = np.random.default_rng(18).standard_normal((200, 50))
    ours, book = L.Dropout(0.3, rng=7), ref.Dropout(0.3, rng=np.random.default_rng(7))
    out = ours.forward(x)
    np.testing.assert_array_equal(out, book.forward(x))
    kept = ours.mask.mean()
    assert 0.67 < kept < 0.73  # 10 000 draws: 0.7 ± 0.03 is > 6 standard deviations
    dout = np.ones_like(x)
    np.testing.assert_array_equal(ours.backward(dout), ours.mask)
    np.testing.assert_allclose(ours.forward(x, train_flg=False), 0.7 * x)


def test_softmax_with_loss_accepts_uint8_labels_and_one_hot_of_the_same_data():
    rng = np.random.default_rng(19)
    x = rng.standard_normal((6, 10))
    t = rng.integers(0, 10, 6).astype(np.uint8)  # MNIST labels come as uint8
    layer = L.SoftmaxWithLoss()
    loss_int = layer.forward(x, t)
    assert layer.t is t
    dx_int = layer.backward().copy()
    loss_hot = layer.forward(x, np.eye(10, dtype=np.uint8)[t])
    assert loss_int == pytest.approx(loss_hot, rel=1e-14)
    np.testing.assert_allclose(layer.backward(), dx_int, rtol=1e-14)
    np.testing.assert_allclose(layer.y.sum(axis=1), 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_layers_stay_float32(dtype):
    rng = np.random.default_rng(20)
    x = rng.standard_normal((8, 5)).astype(dtype)
    aff = L.Affine(rng.standard_normal((5, 4)).astype(dtype), np.zeros(4, dtype))
    bn = L.BatchNormalization(np.ones(4, dtype), np.zeros(4, dtype))
    act, loss = L.Relu(), L.SoftmaxWithLoss()
    value = loss.forward(act.forward(bn.forward(aff.forward(x))), rng.integers(0, 4, 8))
    dx = aff.backward(bn.backward(act.backward(loss.backward())))
    assert isinstance(value, float) and np.isfinite(value)
    assert dx.dtype == aff.dW.dtype == bn.dgamma.dtype == dtype


def _address(a):
    return a.__array_interface__["data"][0]


def test_layers_reuse_an_array_only_once_the_caller_has_let_it_go():
    """A training loop that drops each step's arrays gets the same memory back (no
    allocation per step); an array the caller keeps is never written again."""
    rng = np.random.default_rng(21)
    bn = L.BatchNormalization(np.ones(4), np.zeros(4))
    aff = L.Affine(rng.standard_normal((4, 3)), np.zeros(3))
    x = rng.standard_normal((6, 4))

    def step():
        out, dx = bn.forward(x), bn.backward(x)
        a = aff.forward(x)
        adx = aff.backward(a)
        return [_address(v) for v in (out, dx, a, adx, aff.dW, bn.dgamma, bn.xn)]

    assert step() == step()  # nothing kept: the same arrays every step
    kept = [bn.forward(x), bn.backward(x), aff.forward(x), aff.backward(x[:, :3]), aff.dW,
            bn.dgamma, bn.xn]
    copies = [k.copy() for k in kept]
    bn.forward(2 * x + 1)
    bn.backward(-x)
    aff.forward(3 * x)
    aff.backward(np.ones((6, 3)))
    for k, c in zip(kept, copies, strict=True):
        np.testing.assert_array_equal(k, c)
    x3 = rng.standard_normal((9, 4))  # a new shape: new arrays, right numbers
    out3 = bn.forward(x3)
    assert out3.shape == (9, 4)
    np.testing.assert_allclose(out3, (x3 - x3.mean(0)) / np.sqrt(x3.var(0) + 1e-6))


def test_layers_accept_ndarray_subclasses_like_memmap(tmp_path):
    """Data loaders may hand out np.memmap; the fast path's exact-type test must not reject it."""
    x = np.memmap(tmp_path / "x.f64", dtype=np.float64, mode="w+", shape=(4, 3))
    x[:] = np.arange(12.0).reshape(4, 3)
    plain = np.asarray(x).copy()
    t = np.array([0, 1, 2, 0])
    np.testing.assert_array_equal(L.Relu().forward(x), plain)
    np.testing.assert_array_equal(L.Affine(np.eye(3), np.zeros(3)).forward(x), plain)
    bn = L.BatchNormalization(np.ones(3), np.zeros(3))
    expected = (plain - plain.mean(0)) / np.sqrt(plain.var(0) + 1e-6)
    np.testing.assert_allclose(bn.forward(x), expected)
    assert L.SoftmaxWithLoss().forward(x, t) == pytest.approx(
        ref.SoftmaxWithLoss().forward(plain, t), rel=1e-14)


def _all_layers(rng):
    return [
        (L.Affine(rng.standard_normal((4, 3)), rng.standard_normal(3)), {}),
        (L.BatchNormalization(rng.standard_normal(4), rng.standard_normal(4)), {}),
        (L.Relu(), {}), (L.Sigmoid(), {}), (L.Tanh(), {}),
        (L.Dropout(0.4, rng=1), {}),
    ]


def test_layers_never_modify_their_inputs():
    rng = np.random.default_rng(22)
    for layer, _ in _all_layers(rng):
        x = rng.standard_normal((5, 4))
        x_copy = x.copy()
        out = layer.forward(x)
        dout = rng.standard_normal(out.shape)
        dout_copy = dout.copy()
        layer.backward(dout)
        np.testing.assert_array_equal(x, x_copy, err_msg=type(layer).__name__)
        np.testing.assert_array_equal(dout, dout_copy, err_msg=type(layer).__name__)
    x, t = rng.standard_normal((5, 3)), np.eye(3)[[0, 1, 2, 2, 0]]
    x_copy, t_copy = x.copy(), t.copy()
    sl = L.SoftmaxWithLoss()
    sl.forward(x, t)
    sl.backward()
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(t, t_copy)


# ---------------------------------------------------------------- validation
W43 = np.zeros((4, 3))
G4 = np.ones(4)


def _bn():
    return L.BatchNormalization(np.ones(4), np.zeros(4))


BAD_INPUTS = [
    # (call, exception, words that the message must contain)
    (lambda: L.Affine(W43, np.zeros(3)).forward(np.zeros((2, 5))), ValueError,
     ["Affine.forward", "x", "4 features", "(2, 5)"]),
    (lambda: L.Affine(W43, np.zeros(3)).forward(np.zeros((2, 4), int)), TypeError,
     ["x", "float32 or float64", "int64"]),
    (lambda: L.Affine(W43, np.zeros(3)).forward(np.zeros((2, 4), object)), TypeError,
     ["x", "float32 or float64", "object"]),
    (lambda: L.Affine(W43, np.zeros(3)).forward(np.zeros((0, 4))), ValueError,
     ["x", "empty batch", "(0, 4)"]),
    (lambda: L.Affine(W43.astype(np.float32), np.zeros(3, np.float32)).forward(
        np.zeros((2, 4))), TypeError, ["x", "float64", "float32", "lose precision"]),
    (lambda: L.Sigmoid().forward(np.zeros((2, 2), np.longdouble)), TypeError,
     ["x", "float", "lose precision"]),
    (lambda: L.Affine(W43, np.zeros(3)).forward([[0.0] * 4]), TypeError,
     ["x", "numpy.ndarray", "list"]),
    (lambda: L.Affine(W43, np.zeros(4)), ValueError, ["b", "(3,)", "(4,)"]),
    (lambda: L.Affine(W43, np.zeros(3)).backward(np.zeros((2, 3))), RuntimeError,
     ["before", "forward"]),
    (lambda: _bn().forward(np.zeros((3, 5))), ValueError, ["x", "4 features", "(3, 5)"]),
    (lambda: _bn().forward(np.zeros((0, 4)), train_flg=False), ValueError, ["empty batch"]),
    (lambda: _bn().forward(np.zeros((3, 4), np.int32)), TypeError, ["x", "int32"]),
    (lambda: L.BatchNormalization(G4, np.zeros(3)), ValueError, ["beta", "(4,)", "(3,)"]),
    (lambda: L.BatchNormalization(G4, np.zeros(4), running_mean=np.zeros(2),
                                  running_var=np.ones(2)), ValueError,
     ["running_mean", "(4,)", "(2,)"]),
    (lambda: L.BatchNormalization(G4, np.zeros(4), momentum=1.5), ValueError, ["momentum"]),
    (lambda: _bn().backward(np.zeros((3, 4))), RuntimeError, ["training forward"]),
    (lambda: L.Relu().forward(np.array([], dtype=float)), ValueError, ["empty batch"]),
    (lambda: L.Sigmoid().forward(np.zeros((2, 2), np.int64)), TypeError, ["x", "int64"]),
    (lambda: L.SoftmaxWithLoss().forward(np.zeros((3, 4)), np.array([0, 1, 4])), ValueError,
     ["t", "[0, 3]", "[0, 4]"]),
    (lambda: L.SoftmaxWithLoss().forward(np.zeros((3, 4)), np.array([0, 1])), ValueError,
     ["t", "(3,)", "(2,)"]),
    (lambda: L.SoftmaxWithLoss().forward(np.zeros((3, 4)), np.array([0.0, 1.0, 2.0])),
     TypeError, ["t", "integer", "float64"]),
    (lambda: L.SoftmaxWithLoss().forward(np.zeros((3, 4)), np.zeros((3, 5))), ValueError,
     ["one-hot", "(3, 4)", "(3, 5)"]),
    (lambda: L.Dropout(1.0), ValueError, ["dropout_ratio", "[0, 1)"]),
    (lambda: L.Relu().forward(np.zeros((2, 3)), out=np.zeros((3, 2))), ValueError,
     ["out", "(2, 3)", "(3, 2)"]),
    (lambda: L.Relu().forward(np.zeros((2, 3)), out=np.zeros((2, 3), np.float32)), TypeError,
     ["out", "float64", "float32"]),
    (lambda: L.Sigmoid().forward(np.zeros((2, 3)), out=np.zeros((3, 2)).T), ValueError,
     ["out", "C-contiguous"]),
    (lambda: L.Dropout(0.5, rng="seed"), TypeError, ["rng", "Generator", "str"]),
]


@pytest.mark.parametrize("call, exc, words", BAD_INPUTS)
def test_bad_input_gets_a_clear_error(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} missing from: {info.value}"


def test_backward_checks_dout_shape_and_promotes_its_dtype():
    rng = np.random.default_rng(23)
    for layer, _ in _all_layers(rng):
        out = layer.forward(rng.standard_normal((5, 4)))
        name = type(layer).__name__
        with pytest.raises(ValueError, match=rf"dout must have the shape .*{out.shape}"):
            layer.backward(np.zeros((5, 7)))
        dout = rng.standard_normal(out.shape)
        expected = layer.backward(dout).copy()
        # float32 dout: promoted to the layer's float64 (a layer without parameters computes
        # in dout's own dtype, as the book's would)
        promoted = layer.backward(dout.astype(np.float32))
        np.testing.assert_allclose(promoted, expected, rtol=1e-6, atol=1e-6, err_msg=name)
    rng = np.random.default_rng(24)
    for layer in (L.Affine(rng.standard_normal((4, 3)).astype(np.float32),
                           np.zeros(3, np.float32)),
                  L.BatchNormalization(np.ones(4, np.float32), np.zeros(4, np.float32)),
                  L.Sigmoid(), L.Tanh()):
        out = layer.forward(rng.standard_normal((5, 4)).astype(np.float32))
        with pytest.raises(TypeError, match="dout has dtype float64.*lose precision"):
            layer.backward(np.zeros(out.shape))  # never narrowed silently


def test_diverged_values_flow_through_without_raising():
    """Training that diverges (weight scale 1.0 without BN) must give inf/nan, not crash."""
    x = np.array([[1e308, -1e308, 1.0], [np.inf, 0.0, np.nan], [3.0, 2.0, 1.0]])
    bn = L.BatchNormalization(np.ones(3), np.zeros(3))
    out = bn.forward(x)
    assert not np.isfinite(out[:, :2]).all()
    bn.backward(np.ones_like(x))
    relu, loss = L.Relu(), L.SoftmaxWithLoss()
    value = loss.forward(relu.forward(x), np.array([0, 1, 2]))
    assert np.isnan(value) or np.isinf(value)
    assert np.isnan(loss.backward()).any()


# ---------------------------------------------------------------- the book's semantics
def test_a_layer_in_a_loop_gives_every_caller_its_own_array():
    """The activation-histogram script written with one layer object: acts[i] keeps layer
    i's activations, as with the book's layer (not the last layer's, five times)."""
    rng = np.random.default_rng(30)
    x = rng.standard_normal((1000, 100))
    for Layer in (L.Sigmoid, L.Relu, L.Tanh):
        ours, book, acts, expected = Layer(), getattr(ref, Layer.__name__)(), {}, {}
        z = z_book = x
        for i in range(5):
            w = rng.standard_normal((100, 100))
            acts[i] = ours.forward(z @ w)
            expected[i] = book.forward(z_book @ w)
            z, z_book = acts[i], expected[i]
        means = [acts[i].mean() for i in range(5)]
        assert len({round(m, 6) for m in means}) == 5, means
        for i in range(5):
            np.testing.assert_allclose(acts[i], expected[i], rtol=1e-12, atol=1e-13,
                                       err_msg=Layer.__name__)


def test_changing_relus_output_does_not_change_its_backward():
    """out = relu.forward(x); out *= m: backward still uses the book's mask x <= 0."""
    rng = np.random.default_rng(31)
    x, dout = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    relu = L.Relu()
    out = relu.forward(x)
    out *= rng.random((6, 5)) > 0.5  # some positive outputs become 0
    np.testing.assert_array_equal(relu.backward(dout), np.where(x > 0, dout, 0.0))
    np.testing.assert_array_equal(relu.mask, x <= 0)


def test_gradients_and_attributes_kept_from_earlier_calls_stay_as_they_were():
    rng = np.random.default_rng(32)
    aff = L.Affine(rng.standard_normal((4, 3)), np.zeros(3))
    bn = L.BatchNormalization(np.ones(4), np.zeros(4))
    history, xns = [], []
    for _ in range(3):
        x = rng.standard_normal((5, 4))
        aff.forward(x)
        aff.backward(rng.standard_normal((5, 3)))
        history.append(aff.dW)
        bn.forward(x)
        xns.append(bn.xn)
    assert len({id(h) for h in history}) == 3
    assert not np.array_equal(history[0], history[1])
    for a, b in ((history[0], history[1]), (xns[0], xns[1])):
        assert not np.shares_memory(a, b)


@pytest.mark.parametrize("shape", [(1, 7), (1, 3, 2, 2)])
def test_batchnorm_trains_on_a_batch_of_one_as_the_book(shape):
    """One sample: its variance is 0, so xn = 0, out = beta and dx = 0 (the book's
    batch_norm_gradient_check.py takes such a batch)."""
    rng = np.random.default_rng(33)
    D = int(np.prod(shape[1:]))
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    ours, book = L.BatchNormalization(gamma, beta), ref.BatchNormalization(gamma, beta)
    out = ours.forward(x)
    np.testing.assert_allclose(out, book.forward(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out.reshape(1, D)[0], beta, rtol=1e-12)
    dx = ours.backward(dout)
    np.testing.assert_allclose(dx, book.backward(dout), atol=1e-12)
    np.testing.assert_array_equal(dx, 0.0)
    np.testing.assert_allclose(ours.dgamma, 0.0, atol=1e-12)
    np.testing.assert_allclose(ours.dbeta, dout.reshape(1, D)[0], rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, book.running_var, atol=1e-15)


def _pairs(rng):
    """(dlkit.layers object, dlkit.reference object, forward kwargs), the same parameters."""
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    return [
        (L.Affine(W, b), ref.Affine(W, b), {}),
        (L.BatchNormalization(gamma, beta), ref.BatchNormalization(gamma, beta),
         {"train_flg": True}),
        (L.Relu(), ref.Relu(), {}), (L.Sigmoid(), ref.Sigmoid(), {}), (L.Tanh(), ref.Tanh(), {}),
        (L.Dropout(0.3, rng=5), ref.Dropout(0.3, rng=5), {"train_flg": True}),
        (L.SoftmaxWithLoss(), ref.SoftmaxWithLoss(), {}),
    ]


def _public_attributes(obj):
    names = {n for n in dir(obj) if not n.startswith("_")}
    return {n for n in names if not callable(getattr(obj, n)) or isinstance(
        getattr(obj, n), np.random.Generator)}


def test_layers_and_reference_expose_the_same_public_attributes():
    """dlkit.layers and dlkit.reference: the book's attribute names, holding the same values
    after the same forward and backward (dlkit.layers adds one: its ``state`` object)."""
    rng = np.random.default_rng(34)
    for ours, book, kw in _pairs(rng):
        name = type(ours).__name__
        x = 3 * rng.standard_normal((6, 4)) + 1
        if name == "SoftmaxWithLoss":
            t = rng.integers(0, 4, 6)
            assert ours.forward(x, t) == pytest.approx(book.forward(x, t), rel=1e-12)
            np.testing.assert_allclose(ours.backward(), book.backward(), rtol=1e-12)
        else:
            np.testing.assert_allclose(ours.forward(x, **kw), book.forward(x, **kw),
                                       rtol=1e-12, atol=1e-14, err_msg=name)
            dout = rng.standard_normal(ours.forward(x, **kw).shape)
            book.forward(x, **kw)
            np.testing.assert_allclose(ours.backward(dout), book.backward(dout), rtol=1e-10,
                                       atol=1e-12, err_msg=name)
        assert _public_attributes(ours) == _public_attributes(book) | {"state"}, name
        for attr in _public_attributes(book) - {"rng"}:
            a, b = getattr(ours, attr), getattr(book, attr)
            if isinstance(b, np.ndarray):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12,
                                           err_msg=f"{name}.{attr}")
            else:
                assert a == pytest.approx(b, rel=1e-12), f"{name}.{attr}"


def test_float_input_is_promoted_as_numpy_would():
    rng = np.random.default_rng(35)
    W, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    x32 = rng.standard_normal((5, 4)).astype(np.float32)
    out = L.Affine(W, b).forward(x32)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, L.Affine(W, b).forward(x32.astype(np.float64)))
    bn = L.BatchNormalization(np.ones(4), np.zeros(4))
    assert bn.forward(x32.astype(np.float16)).dtype == np.float64
    assert L.Relu().forward(x32.astype(np.float16)).dtype == np.float32
    assert L.Sigmoid().forward(x32).dtype == np.float32  # no parameters: x's own dtype
    assert x32.dtype == np.float32  # the caller's array is not converted in place


def test_out_receives_the_result():
    rng = np.random.default_rng(36)
    x = rng.standard_normal((3, 4))
    for layer, kw in ((L.Relu(), {}), (L.Sigmoid(), {}), (L.Tanh(), {}),
                      (L.Dropout(0.5, rng=1), {"train_flg": False})):
        out = np.empty_like(x)
        expected = type(layer)() if not isinstance(layer, L.Dropout) else L.Dropout(0.5)
        assert layer.forward(x, out=out, **kw) is out
        np.testing.assert_array_equal(out, expected.forward(x, **kw))
