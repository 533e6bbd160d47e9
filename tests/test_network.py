"""dlkit.network.MultiLayerNet: the book's MultiLayerNetExtend on both backends."""

import copy
import tracemalloc
import warnings
from collections import OrderedDict

import numpy as np
import pytest

from dlkit import layers, reference
from dlkit.gradcheck import check_network, numerical_gradient
from dlkit.initializers import init_weight
from dlkit.network import Layers, MultiLayerNet
from dlkit.optimizers import SGD

BACKENDS = ["numba", "numpy"]
SMALL = dict(input_size=8, hidden_size_list=[7, 6, 5], output_size=4)


def _data(n=6, d=8, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def _train(net, x, t, steps, lr=0.1):
    opt, losses = SGD(lr), []
    for _ in range(steps):
        opt.update(net.params, net.gradient(x, t))
        losses.append(net.loss(x, t, train_flg=True))
    return losses


# ------------------------------------------------------------------ structure
def test_book_names_order_and_shapes():
    net = MultiLayerNet(**SMALL, use_batchnorm=True, use_dropout=True, seed=0)
    assert list(net.params) == [
        "W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4",
        "gamma1", "beta1", "gamma2", "beta2", "gamma3", "beta3",
    ]  # fmt: skip  (the book's MultiLayerNetExtend: the weights first, then BatchNorm's)
    x, t = _data(n=6)
    assert list(net.gradient(x, t)) == [
        "W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
        "W3", "b3", "gamma3", "beta3", "W4", "b4",
    ]  # fmt: skip  (the book's gradient and numerical_gradient: layer by layer)
    assert list(net.layers) == [
        "Affine1", "BatchNorm1", "Activation_function1", "Dropout1",
        "Affine2", "BatchNorm2", "Activation_function2", "Dropout2",
        "Affine3", "BatchNorm3", "Activation_function3", "Dropout3",
        "Affine4",
    ]  # fmt: skip
    assert net.params["W1"].shape == (8, 7) and net.params["gamma1"].shape == (7,)
    assert net.params["W4"].shape == (5, 4) and net.params["b4"].shape == (4,)
    assert np.all(net.params["gamma2"] == 1) and np.all(net.params["beta2"] == 0)
    assert np.all(net.params["b1"] == 0)
    assert isinstance(net.layers["Affine1"], layers.Affine)
    assert isinstance(net.last_layer, layers.SoftmaxWithLoss)
    # the layers hold the params arrays themselves, so in-place updates reach them
    assert net.layers["Affine2"].W is net.params["W2"]
    assert net.layers["BatchNorm3"].gamma is net.params["gamma3"]
    plain = MultiLayerNet(**SMALL, seed=0, backend="numpy")
    assert list(plain.params) == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]
    assert isinstance(plain.layers["Affine1"], reference.Affine)
    assert isinstance(plain.layers["Activation_function1"], reference.Relu)


@pytest.mark.parametrize("scheme", ["relu", "he", "sigmoid", "xavier", 0.01, "zeros"])
def test_weights_come_from_init_weight_with_the_seeded_generator(scheme):
    net = MultiLayerNet(**SMALL, weight_init_std=scheme, seed=5)
    rng = np.random.default_rng(5)
    for idx, (n_in, n_out) in enumerate([(8, 7), (7, 6), (6, 5), (5, 4)], start=1):
        assert np.array_equal(net.params[f"W{idx}"], init_weight(n_in, n_out, scheme, rng))


@pytest.mark.parametrize("activation, cls", [("sigmoid", "Sigmoid"), ("tanh", "Tanh")])
def test_activations(activation, cls):
    net = MultiLayerNet(**SMALL, activation=activation, seed=0)
    assert type(net.layers["Activation_function2"]).__name__ == cls


# ------------------------------------------------------------------ gradients
def _assert_backprop_ok(net_like, x, t, n_bn=0):
    """Every parameter's rel_error < 1e-5, except the biases b1..b<n_bn> in front of a
    BatchNorm: BN subtracts the batch mean, so their true gradient is exactly 0 and
    rel_error would compare rounding noise with rounding noise (the central difference's
    noise, ~eps*|L|/h ~ 1e-11, over the 1e-8 floor gives ~1e-3). For those both the
    backprop and the numerical gradient must be ~0 in absolute terms instead.
    """
    errs = check_network(net_like, x, t)
    assert set(errs) == set(net_like.params)
    shadowed = {f"b{i}" for i in range(1, n_bn + 1)}
    worst = {k: e for k, e in errs.items() if k not in shadowed}
    assert max(worst.values()) < 1e-5, worst
    grads = net_like.gradient(x, t)
    for k in shadowed:
        num = numerical_gradient(lambda _: net_like.loss(x, t, train_flg=True), net_like.params[k])
        assert np.max(np.abs(grads[k])) < 1e-12 and np.max(np.abs(num)) < 1e-9, k
    return errs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("use_batchnorm", [False, True], ids=["plain", "bn"])
def test_backprop_matches_central_differences(backend, use_batchnorm):
    x, t = _data()
    net = MultiLayerNet(**SMALL, use_batchnorm=use_batchnorm, seed=1, backend=backend)
    _train(net, x, t, 2)  # move gamma/beta off 1/0 and the biases off 0
    _assert_backprop_ok(net, x, t, n_bn=3 if use_batchnorm else 0)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_backprop_other_activations_weight_decay_one_hot(activation):
    x, t = _data()
    one_hot = np.eye(4)[t]
    net = MultiLayerNet(
        **SMALL, activation=activation, weight_init_std="xavier", weight_decay_lambda=0.3,
        use_batchnorm=True, seed=2,
    )
    _assert_backprop_ok(net, x, one_hot, n_bn=3)


class FixedMaskNet:
    """The network with every Dropout layer re-seeded before each forward: fixed masks."""

    def __init__(self, net):
        self.net, self.params = net, net.params

    def _reseed(self):
        for i, key in enumerate(k for k in self.net.layers if k.startswith("Dropout")):
            self.net.layers[key].rng = np.random.default_rng(100 + i)

    def loss(self, x, t, train_flg=False):
        self._reseed()
        return self.net.loss(x, t, train_flg)

    def gradient(self, x, t):
        self._reseed()
        return self.net.gradient(x, t)


@pytest.mark.parametrize("backend", BACKENDS)
def test_backprop_with_dropout_and_fixed_masks(backend):
    x, t = _data()
    net = MultiLayerNet(
        **SMALL, use_dropout=True, dropout_ratio=0.3, use_batchnorm=True, seed=3, backend=backend
    )
    _assert_backprop_ok(FixedMaskNet(net), x, t, n_bn=3)
    # and the masks really drop units: a forward differs from the inference one
    assert not np.allclose(net.predict(x, train_flg=True), net.predict(x, train_flg=True))


def test_numerical_gradient_method_matches_gradient():
    x, t = _data()
    net = MultiLayerNet(**SMALL, use_batchnorm=True, weight_decay_lambda=0.1, seed=4)
    num = net.numerical_gradient(x, t)
    ana = {k: v.copy() for k, v in net.gradient(x, t).items()}
    assert num.keys() == ana.keys()
    for k in num:
        np.testing.assert_allclose(num[k], ana[k], rtol=1e-4, atol=1e-7, err_msg=k)


# ------------------------------------------------------------------ backends, determinism
@pytest.mark.parametrize("use_batchnorm", [False, True], ids=["plain", "bn"])
def test_numba_and_numpy_backends_agree(use_batchnorm):
    x, t = _data(n=16)
    kw = dict(SMALL, use_batchnorm=use_batchnorm, use_dropout=True, seed=7)
    a, b = MultiLayerNet(**kw, backend="numba"), MultiLayerNet(**kw, backend="numpy")
    ga = {k: v.copy() for k, v in a.gradient(x, t).items()}
    gb = b.gradient(x, t)
    for k in ga:
        np.testing.assert_allclose(ga[k], gb[k], rtol=1e-10, atol=1e-13, err_msg=k)
    la, lb = _train(a, x, t, 5), _train(b, x, t, 5)
    np.testing.assert_allclose(la, lb, rtol=1e-10)
    for k in a.params:
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-9, atol=1e-12, err_msg=k)
    assert a.accuracy(x, t) == b.accuracy(x, t)


def test_gradient_skips_the_datas_gradient_only_where_the_layer_can():
    """∂L/∂x of the first Affine is unused: the Numba backend does not compute it (a third of
    that layer's matrix work); the book's reference Affine has no way to skip it."""
    x, t = _data()
    net = MultiLayerNet(**SMALL, use_batchnorm=True, seed=8)
    net.gradient(x, t)
    assert net.layers["Affine1"].state.dx is None
    assert net.layers["Affine2"].state.dx is not None
    plain = MultiLayerNet(**SMALL, use_batchnorm=True, seed=8, backend="numpy")
    assert not hasattr(plain.layers["Affine1"], "backward_params")
    plain.gradient(x, t)  # takes the book's backward


_LAYER_STATE = {
    "Affine": ("x", "dW", "db"),
    "BatchNorm": ("running_mean", "running_var", "xn", "xc", "std", "batch_size", "dgamma",
                  "dbeta"),
    "Activation_function": ("mask",),
}


class BookRelu(layers.Relu):
    """dlkit's Relu under another class: MultiLayerNet runs it through the book's loop (a
    subclass might compute something else, so the fused blocks never stand in for it)."""


def _layered(net):
    """net with every Relu replaced by a BookRelu: trained layer by layer."""
    for key, layer in list(net.layers.items()):
        if type(layer) is layers.Relu:
            net.layers[key] = BookRelu()
    assert net.layers.blocks is None
    return net


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("use_batchnorm", [True, False])
def test_fused_blocks_train_exactly_as_the_layers(use_batchnorm, dtype):
    """backend='numba' with ReLU trains through dlkit.blocks (one fused kernel per hidden layer
    and direction); the same network forced through its layers one by one gives the same
    gradients, parameters and losses bit for bit, and the layers end in the same state."""
    x, t = _data(n=9)
    x = x.astype(dtype)
    fused = MultiLayerNet(**SMALL, use_batchnorm=use_batchnorm, seed=3, dtype=dtype)
    layered = _layered(MultiLayerNet(**SMALL, use_batchnorm=use_batchnorm, seed=3, dtype=dtype))
    assert fused.layers.blocks is not None
    for _ in range(4):
        g_fused, g_layered = fused.gradient(x, t), layered.gradient(x, t)
        assert g_fused.keys() == g_layered.keys()
        for k in g_fused:
            np.testing.assert_array_equal(g_fused[k], g_layered[k], err_msg=k)
        for net, grads in ((fused, g_fused), (layered, g_layered)):
            SGD(0.1).update(net.params, grads)
    for k in fused.params:
        np.testing.assert_array_equal(fused.params[k], layered.params[k], err_msg=k)
    for name, layer in fused.layers.items():
        for attr in _LAYER_STATE.get(name.rstrip("0123456789"), ()):
            np.testing.assert_array_equal(getattr(layer, attr),
                                          getattr(layered.layers[name], attr),
                                          err_msg=f"{name}.{attr}")
    assert fused.loss(x, t, train_flg=True) == layered.loss(x, t, train_flg=True)
    assert fused.accuracy(x, t) == layered.accuracy(x, t)


def test_a_layer_swapped_into_net_layers_is_used():
    """How the layers run is worked out again whenever net.layers changes: with another
    layer in it, training goes through net.layers one by one, as the book's loop does; with
    the lesson's layers back, through the fused blocks again."""
    x, t = _data(n=9)
    swapped = MultiLayerNet(**SMALL, use_batchnorm=True, seed=4)
    reference = _layered(MultiLayerNet(**SMALL, use_batchnorm=True, seed=4))
    for net in (swapped, reference):
        net.layers["Activation_function2"] = layers.Sigmoid()
    assert swapped.layers.blocks is None
    g_swapped, g_reference = swapped.gradient(x, t), reference.gradient(x, t)
    for k in g_swapped:
        np.testing.assert_array_equal(g_swapped[k], g_reference[k], err_msg=k)
    assert swapped.layers["Activation_function2"].out is not None  # the Sigmoid ran
    swapped.layers["Activation_function2"] = relu = layers.Relu()
    assert [b.relu for b, _, _ in swapped.layers.blocks][1] is relu
    for change in (lambda d: d.move_to_end("Affine1"), lambda d: d.pop("Activation_function2"),
                   lambda d: d.popitem(), lambda d: d.clear()):
        net = MultiLayerNet(**SMALL, use_batchnorm=True, seed=4)
        change(net.layers)
        assert net.layers.blocks is None
    net = MultiLayerNet(**SMALL, use_batchnorm=True, seed=4)
    net.layers = OrderedDict(net.layers)  # a plain dict assigned: planned as well
    assert isinstance(net.layers, Layers) and net.layers.blocks is not None
    copied = copy.deepcopy(net)
    assert copied.layers.blocks[0][0].affine is copied.layers["Affine1"]
    np.testing.assert_array_equal(copied.gradient(x, t)["W1"], net.gradient(x, t)["W1"])


@pytest.mark.parametrize(("kwargs", "fused"), [
    (dict(), True),
    (dict(use_batchnorm=True), True),
    (dict(use_batchnorm=True, activation="sigmoid"), False),
    (dict(activation="tanh"), False),
    (dict(use_batchnorm=True, use_dropout=True), False),
    (dict(use_batchnorm=True, backend="numpy"), False),
])
def test_blocks_are_used_for_relu_without_dropout_on_numba_only(kwargs, fused):
    net = MultiLayerNet(**SMALL, seed=0, **kwargs)
    assert (net.layers.blocks is not None) == fused
    if fused:
        assert len(net.layers.blocks) == len(SMALL["hidden_size_list"])
        block, key, after = net.layers.blocks[0]
        assert block.affine is net.layers["Affine1"] and after is net.layers["Affine2"]
        assert block.relu is net.layers["Activation_function1"] == net.layers[key]


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_bit_identical_runs(backend):
    x, t = _data(n=16)
    kw = dict(SMALL, use_batchnorm=True, use_dropout=True, seed=11, backend=backend)
    a, b, c = MultiLayerNet(**kw), MultiLayerNet(**kw), MultiLayerNet(**dict(kw, seed=12))
    np.random.seed(0)  # the global state must not matter
    la = _train(a, x, t, 5)
    np.random.seed(1)
    lb = _train(b, x, t, 5)
    lc = _train(c, x, t, 5)
    assert la == lb
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert la != lc


def test_training_reduces_the_loss_and_float32_follows_float64():
    x, t = _data(n=32)
    l64 = _train(MultiLayerNet(**SMALL, use_batchnorm=True, seed=0), x, t, 30)
    net32 = MultiLayerNet(**SMALL, use_batchnorm=True, seed=0, dtype=np.float32)
    assert net32.params["W1"].dtype == np.float32
    l32 = _train(net32, x.astype(np.float32), t, 30)
    assert l64[-1] < 0.8 * l64[0]  # random labels: 30 steps memorise part of 32 samples
    np.testing.assert_allclose(l32, l64, rtol=1e-3)  # float32 rounding (~1e-7) over 30 steps


def test_gradient_with_weight_decay_is_dW_plus_lambda_W():
    x, t = _data()
    kw = dict(SMALL, seed=6)
    plain, decayed = MultiLayerNet(**kw), MultiLayerNet(**kw, weight_decay_lambda=0.5)
    g0 = {k: v.copy() for k, v in plain.gradient(x, t).items()}
    g1 = decayed.gradient(x, t)
    for idx in range(1, 5):
        W = decayed.params[f"W{idx}"]
        np.testing.assert_allclose(g1[f"W{idx}"], g0[f"W{idx}"] + 0.5 * W, rtol=1e-12)
        assert np.array_equal(g1[f"b{idx}"], g0[f"b{idx}"])
    penalty = 0.25 * sum(np.sum(decayed.params[f"W{i}"] ** 2) for i in range(1, 5))
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + penalty, rel=1e-12)


def test_inference_uses_running_statistics():
    x, t = _data(n=16)
    net = MultiLayerNet(**SMALL, use_batchnorm=True, seed=0)
    before = net.predict(x)  # running stats still 0 / 0 (as the book) at first use
    net.gradient(x, t)
    after = net.predict(x)
    assert not np.allclose(before, after)  # the training forward moved the running stats
    # inference is per sample: one sample alone scores as it does inside the batch
    np.testing.assert_allclose(net.predict(x[3:4]), after[3:4], rtol=1e-12)


# ------------------------------------------------------------------ bad input
@pytest.fixture(scope="module")
def net():
    return MultiLayerNet(**SMALL, use_batchnorm=True, seed=0)


GOOD_X, GOOD_T = _data()
BAD_X = [
    ([[0.0] * 8] * 6, TypeError, ["x", "numpy.ndarray", "list"]),
    (GOOD_X > 0, TypeError, ["x", "float or integer", "bool"]),
    (GOOD_X.astype(object), TypeError, ["x", "float or integer", "object"]),
    (GOOD_X[:, :7], ValueError, ["x", "(N, 8)", "(6, 7)"]),
    (GOOD_X.reshape(6, 2, 4), ValueError, ["x", "(N, 8)", "(6, 2, 4)", "flatten"]),
    (GOOD_X[0], ValueError, ["x", "(N, 8)", "(8,)"]),
    (np.zeros((0, 8)), ValueError, ["x", "empty", "(0, 8)"]),
    (np.where(np.arange(48).reshape(6, 8) == 13, np.nan, GOOD_X), ValueError,
     ["x", "finite", "NaN", "(1, 5)"]),
    (np.where(np.arange(48).reshape(6, 8) == 40, -np.inf, GOOD_X), ValueError,
     ["x", "finite", "inf", "(5, 0)"]),
]  # fmt: skip
BAD_T = [
    ([0, 1, 2, 3, 0, 1], TypeError, ["t", "numpy.ndarray", "list"]),
    (GOOD_T[:5], ValueError, ["t", "(6,)", "(5,)"]),
    (GOOD_T.astype(np.float64), TypeError, ["t", "integer", "float64"]),
    (np.array([0, 1, 2, 4, 0, 1]), ValueError, ["t", "[0, 3]", "[0, 4]"]),
    (np.array([0, -1, 2, 3, 0, 1]), ValueError, ["t", "[0, 3]", "[-1, 3]"]),
    (np.eye(5)[GOOD_T], ValueError, ["t", "one-hot", "(6, 4)", "(6, 5)"]),
    (np.full((6, 4), np.nan), ValueError, ["t", "finite"]),
    (np.eye(4)[GOOD_T].astype(object), TypeError, ["t", "numeric", "object"]),
    (GOOD_T.reshape(6, 1, 1), ValueError, ["t", "(6,)", "(6, 4)", "(6, 1, 1)"]),
]
ENTRY_POINTS = {
    "predict": lambda net, x, t: net.predict(x),
    "loss": lambda net, x, t: net.loss(x, t),
    "accuracy": lambda net, x, t: net.accuracy(x, t),
    "gradient": lambda net, x, t: net.gradient(x, t),
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("bad_x, exc, words", BAD_X, ids=[str(i) for i in range(len(BAD_X))])
def test_bad_x_is_named_at_every_entry_point(net, entry, bad_x, exc, words):
    with pytest.raises(exc) as info:
        ENTRY_POINTS[entry](net, bad_x, GOOD_T)
    for w in words:
        assert w in str(info.value), str(info.value)


@pytest.mark.parametrize("entry", ["loss", "accuracy", "gradient"])
@pytest.mark.parametrize("bad_t, exc, words", BAD_T, ids=[str(i) for i in range(len(BAD_T))])
def test_bad_t_is_named_at_every_entry_point(net, entry, bad_t, exc, words):
    with pytest.raises(exc) as info:
        ENTRY_POINTS[entry](net, GOOD_X, bad_t)
    for w in words:
        assert w in str(info.value), str(info.value)


def test_labels_may_be_integer_of_any_width_or_one_hot(net):
    ref = net.loss(GOOD_X, GOOD_T)
    assert net.loss(GOOD_X, GOOD_T.astype(np.uint8)) == ref
    assert net.loss(GOOD_X, np.eye(4)[GOOD_T]) == pytest.approx(ref, rel=1e-12)
    assert net.accuracy(GOOD_X, np.eye(4)[GOOD_T]) == net.accuracy(GOOD_X, GOOD_T)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batchnorm_trains_on_one_sample_as_the_book(backend):
    """A batch of one in training mode: BN's output is beta, so everything before it gets
    a zero gradient; the gradient still matches central differences (the book's
    batch_norm_gradient_check.py)."""
    x, t = _data(n=1)
    net = MultiLayerNet(**SMALL, use_batchnorm=True, seed=5, backend=backend)
    rng = np.random.default_rng(5)
    for i in (1, 2, 3):  # away from 0, ReLU's kink, where BN's output would sit
        beta = net.params[f"beta{i}"]
        beta[:] = rng.uniform(0.5, 1.0, beta.size) * rng.choice([-1, 1], beta.size)
    grads = {k: v.copy() for k, v in net.gradient(x, t).items()}
    num = net.numerical_gradient(x, t)
    for k in grads:
        assert np.abs(grads[k] - num[k]).mean() < 1e-8, k
    for k in ("W1", "b1", "gamma1", "W2", "gamma2"):  # all behind BN's constant output
        assert np.all(grads[k] == 0), k
    assert np.abs(grads["W4"]).max() > 1e-3 and np.abs(grads["beta3"]).max() > 1e-3


def test_a_narrower_float_input_is_promoted_a_wider_one_refused(net):
    for dtype in (np.float32, np.float16):
        x = GOOD_X.astype(dtype)
        expected = net.loss(x.astype(np.float64), GOOD_T)
        assert net.loss(x, GOOD_T) == expected
        assert net.predict(x).dtype == np.float64
        assert x.dtype == dtype  # the caller's array is left as it is
    net32 = MultiLayerNet(**SMALL, seed=0, dtype=np.float32)
    with pytest.raises(TypeError, match="x has dtype float64.*float32.*lose precision"):
        net32.gradient(GOOD_X, GOOD_T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_uint8_batch_is_promoted_like_float32(dtype, backend):
    """The book's loader with normalize=False gives uint8 pixels: a network takes them as it
    takes float32 images (promoted to its dtype, as NumPy's dot would), with the same numbers
    as the same values given as floats; int64 is refused by a float32 network only."""
    rng = np.random.default_rng(9)
    x8 = rng.integers(0, 256, (6, SMALL["input_size"]), dtype=np.uint8)
    net = MultiLayerNet(**SMALL, weight_init_std=0.001, use_batchnorm=True, seed=0,
                        dtype=dtype, backend=backend)
    xf = x8.astype(dtype)
    assert net.loss(x8, GOOD_T) == net.loss(xf, GOOD_T)
    assert net.accuracy(x8, GOOD_T) == net.accuracy(xf, GOOD_T)
    np.testing.assert_array_equal(net.predict(x8), net.predict(xf))
    g8 = {k: v.copy() for k, v in net.gradient(x8, GOOD_T.astype(np.uint8)).items()}
    for k, g in net.gradient(xf, GOOD_T).items():
        np.testing.assert_array_equal(g8[k], g, err_msg=k)
    assert x8.dtype == np.uint8  # the caller's array is left as it is
    if dtype == np.float32:
        with pytest.raises(TypeError, match="x has dtype int64.*float32.*lose precision"):
            net.predict(x8.astype(np.int64))
    else:
        np.testing.assert_array_equal(net.predict(x8.astype(np.int64)), net.predict(xf))


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(input_size=0), ValueError, ["input_size", "positive", "0"]),
        (dict(hidden_size_list=100), TypeError, ["hidden_size_list", "int 100"]),
        (dict(hidden_size_list=[7, 0]), ValueError, ["hidden_size_list[1]", "0"]),
        (dict(activation="softplus"), ValueError, ["activation", "'relu'", "'softplus'"]),
        (dict(weight_init_std="kaiming"), ValueError, ["scheme", "'kaiming'"]),
        (dict(weight_decay_lambda=-1), ValueError, ["weight_decay_lambda", ">= 0", "-1"]),
        (dict(dropout_ratio=1.0), ValueError, ["dropout_ratio", "[0, 1)", "1.0"]),
        (dict(dtype=np.int32), TypeError, ["dtype", "float32 or float64", "int32"]),
        (dict(backend="torch"), ValueError, ["backend", "'numba'", "'torch'"]),
    ],
)
def test_bad_constructor_arguments(kwargs, exc, words):
    with pytest.raises(exc) as info:
        MultiLayerNet(**{**SMALL, **kwargs})
    for w in words:
        assert w in str(info.value), str(info.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_are_never_modified(backend):
    x, t = _data()
    x.flags.writeable = False  # any in-place write would raise
    t.flags.writeable = False
    one_hot = np.eye(4)[t]
    one_hot.flags.writeable = False
    net = MultiLayerNet(**SMALL, use_batchnorm=True, use_dropout=True, seed=0, backend=backend)
    for labels in (t, one_hot):
        net.predict(x, train_flg=True)
        net.loss(x, labels, train_flg=True)
        net.accuracy(x, labels)
        net.gradient(x, labels)


def test_predict_returns_a_new_array(net):
    y1 = net.predict(GOOD_X)
    y1_copy = y1.copy()
    net.predict(GOOD_X[::-1].copy())
    assert np.array_equal(y1, y1_copy)


# ------------------------------------------------------------------ divergence
@pytest.mark.parametrize("backend", BACKENDS)
def test_diverging_training_does_not_crash(backend):
    """The lesson's case: weight scale 1.0, 5 ReLU layers of 100, no BN: the loss overflows."""
    rng = np.random.default_rng(0)
    x, t = rng.random((64, 784)), rng.integers(0, 10, 64)
    net = MultiLayerNet(784, [100] * 5, 10, weight_init_std=1.0, seed=0, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no floating-point warning may escape
        losses = _train(net, x, t, 6, lr=0.01)
        acc = net.accuracy(x, t)
    assert losses[0] > 1e10  # exploding from the first step
    assert not np.isfinite(losses[-1])
    assert 0.0 <= acc <= 1.0


# ------------------------------------------------------------------ allocation
@pytest.mark.parametrize(("use_batchnorm", "use_dropout"), [(True, False), (False, False),
                                                           (True, True)],
                         ids=["bn", "plain", "bn+dropout"])
def test_training_step_does_not_allocate_arrays(use_batchnorm, use_dropout):
    """After the first step the layers (or the fused blocks) and the optimizer reuse their
    buffers."""
    rng = np.random.default_rng(0)
    x, t = rng.random((128, 784)), rng.integers(0, 10, 128)
    net = MultiLayerNet(784, [100] * 4, 10, use_batchnorm=use_batchnorm,
                        weight_decay_lambda=0.1, use_dropout=use_dropout, seed=0)
    opt = SGD(0.01)
    for _ in range(2):
        opt.update(net.params, net.gradient(x, t))
    for _ in range(2):  # the first steps of the book's loop make its second set of arrays
        grads = net.gradient(x, t)
        opt.update(net.params, grads)
    del grads
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.update(net.params, net.gradient(x, t))
        for _ in range(3):  # the book's loop: `grads` holds the last step's arrays meanwhile
            grads = net.gradient(x, t)
            opt.update(net.params, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one (128, 100) float64 activation is 102 400 bytes; Python's dicts and scalars ~ 4 KB
    assert peak < 16_000, f"a training step allocated {peak} bytes"


# ------------------------------------------------------------------ the book's semantics
def test_gradients_are_the_callers_to_keep():
    """ga = net.gradient(A); gb = net.gradient(B): (ga + gb)/2 is the gradient of A ∪ B (equal
    halves), as with the book; a history of gradients keeps every step's own array."""
    rng = np.random.default_rng(40)
    x, t = rng.standard_normal((16, 8)), rng.integers(0, 4, 16)
    for kwargs in (dict(use_batchnorm=False), dict(use_dropout=False, activation="sigmoid"),
                   dict(weight_decay_lambda=0.1)):
        net = MultiLayerNet(**SMALL, seed=6, **kwargs)
        ga = net.gradient(x[:8], t[:8])
        gb = net.gradient(x[8:], t[8:])
        both = net.gradient(x, t)
        for k in both:
            np.testing.assert_allclose((ga[k] + gb[k]) / 2, both[k], rtol=1e-10, atol=1e-15,
                                       err_msg=f"{kwargs} {k}")
        hist = [net.gradient(x[i:i + 4], t[i:i + 4])["W2"] for i in (0, 4, 8)]
        assert len({id(h) for h in hist}) == 3
        for i, h in zip((0, 4, 8), hist, strict=True):
            np.testing.assert_array_equal(h, net.gradient(x[i:i + 4], t[i:i + 4])["W2"])


def test_predict_keeps_each_result():
    x, _ = _data(n=6)
    net = MultiLayerNet(**SMALL, seed=7, use_batchnorm=True)
    ys = [net.predict(x[i:i + 2]) for i in (0, 2, 4)]
    np.testing.assert_array_equal(np.vstack(ys), net.predict(x))
    activations = []  # a layer's attribute kept after each call stays the same too
    sig = MultiLayerNet(**SMALL, seed=7, activation="sigmoid")
    for i in (0, 2, 4):
        sig.predict(x[i:i + 2])
        activations.append(sig.layers["Activation_function1"].out)
    assert len({id(a) for a in activations}) == 3
    np.testing.assert_array_equal(activations[0], sig.layers["Activation_function1"].forward(
        sig.layers["Affine1"].forward(x[:2])))


def test_the_books_keyword_spellings_and_scheme_names():
    net = MultiLayerNet(**SMALL, use_dropout=True, dropout_ration=0.2, seed=0)
    assert net.dropout_ratio == 0.2 and net.layers["Dropout1"].dropout_ratio == 0.2
    assert MultiLayerNet(**SMALL, use_dropout=True, seed=0).dropout_ratio == 0.5
    with pytest.raises(TypeError, match="dropout_ratio or the book's spelling dropout_ration"):
        MultiLayerNet(**SMALL, dropout_ratio=0.1, dropout_ration=0.2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'dropout_rate'"):
        MultiLayerNet(**SMALL, dropout_rate=0.2)
    for book, ours in (("He", "he"), ("Xavier", "xavier"), ("ReLU", "relu"),
                       ("SIGMOID", "sigmoid")):
        a = MultiLayerNet(**SMALL, weight_init_std=book, seed=1)
        b = MultiLayerNet(**SMALL, weight_init_std=ours, seed=1)
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])
