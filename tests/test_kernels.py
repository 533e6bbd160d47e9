"""Every Numba kernel equals its plain-NumPy twin in dlkit.reference.

Shapes include N = 1 and odd sizes; inputs are C-contiguous or strided views; float64 and
float32.  Kernels must not modify inputs.
"""

import warnings

import numpy as np
import pytest

from dlkit import kernels as K
from dlkit.kernels.affine import _add_bias, _sum_rows
from dlkit.reference import layers as ref

DTYPES = [np.float64, np.float32]
LAYOUTS = ["C", "strided"]
SHAPES = [(1, 1), (1, 7), (3, 5), (17, 33)]
BN_SHAPES = [(1, 4), (2, 1), (5, 3), (17, 33)]
# float64 results differ from NumPy's only by summation order (a few ulps of the sums);
# float32 kernels accumulate in float64 while NumPy sums in float32, hence the looser bound.
TOL = {np.float64: dict(rtol=1e-11, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def make(rng, shape, dtype, layout, loc=0.0, scale=1.0):
    """Random array of ``shape``; 'strided' is a non-contiguous view (every other column)."""
    if layout == "C":
        return (loc + scale * rng.standard_normal(shape)).astype(dtype)
    base = (loc + scale * rng.standard_normal((shape[0], 2 * shape[1]))).astype(dtype)
    view = base[:, ::2]
    assert not view.flags.c_contiguous or shape[1] == 1
    return view


def frozen(*arrays):
    """Copies to check afterwards that the kernel left its inputs alone."""
    return [a.copy() for a in arrays]


def assert_unchanged(arrays, copies):
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)


def close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_affine_matches_reference(shape, layout, dtype):
    rng = np.random.default_rng(1)
    N, D = shape
    M = 4
    x = make(rng, (N, D), dtype, layout)
    W = make(rng, (D, M), dtype, "C")
    b = make(rng, (M,), dtype, "C")[:M]
    dout = make(rng, (N, M), dtype, layout)
    keep = frozen(x, W, b, dout)

    layer = ref.Affine(W, b)
    out = K.affine_forward(x, W, b, np.empty((N, M), dtype))
    close(out, layer.forward(x), dtype)
    dx, dW, db = K.affine_backward(
        dout, x, W, np.empty((N, D), dtype), np.empty((D, M), dtype), np.empty(M, dtype)
    )
    close(dx, layer.backward(dout), dtype)
    close(dW, layer.dW, dtype)
    close(db, layer.db, dtype)
    assert out.dtype == dx.dtype == dW.dtype == db.dtype == dtype
    assert_unchanged([x, W, b, dout], keep)


ACTIVATIONS = [
    (K.sigmoid_forward, K.sigmoid_backward, ref.Sigmoid),
    (K.tanh_forward, K.tanh_backward, ref.Tanh),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fwd, bwd, Ref", ACTIVATIONS, ids=["sigmoid", "tanh"])
def test_activation_matches_reference(fwd, bwd, Ref, shape, layout, dtype):
    rng = np.random.default_rng(2)
    x = make(rng, shape, dtype, layout, scale=3.0)
    dout = make(rng, shape, dtype, layout)
    keep = frozen(x, dout)

    layer = Ref()
    out = fwd(x, np.empty(shape, dtype))
    close(out, layer.forward(x), dtype)
    dx = bwd(dout, out, np.empty(shape, dtype))
    close(dx, layer.backward(dout), dtype)
    assert out.dtype == dx.dtype == dtype
    assert_unchanged([x, dout], keep)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_relu_matches_reference_with_the_books_mask(shape, layout, dtype):
    rng = np.random.default_rng(2)
    x = make(rng, shape, dtype, layout, scale=3.0)
    x[0, 0] = 0.0  # the kink: both sides must agree that the unit is off there
    if x.size > 1:
        x.flat[1] = np.nan  # NaN passes through, its unit on (the book's mask is x <= 0)
    dout = make(rng, shape, dtype, layout)
    keep = frozen(x, dout)

    layer = ref.Relu()
    out, mask = np.empty(shape, dtype), np.empty(shape, np.bool_)
    assert K.relu_forward(x, out, mask) is out
    np.testing.assert_array_equal(out, layer.forward(x))
    np.testing.assert_array_equal(mask, layer.mask)
    dx = K.relu_backward(dout, mask, np.empty(shape, dtype))
    np.testing.assert_array_equal(dx, layer.backward(dout))
    assert out.dtype == dx.dtype == dtype
    assert_unchanged([x, dout], keep)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_saturates_without_nan_or_warning(dtype):
    # exp(800) overflows in both dtypes (exp(100) in float32 only): the answer 0 is right,
    # so neither a NaN nor an overflow warning may come out
    x = np.array([[-800.0, -100.0, 800.0, 0.0]], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = K.sigmoid_forward(x, np.empty_like(x))
    assert out.dtype == dtype
    # sigmoid(-100) = 3.7e-44: float32 rounds it to 0 (its exp overflowed)
    np.testing.assert_allclose(out, [[0.0, 1 / (1 + np.exp(100.0)), 1.0, 0.5]], rtol=0,
                               atol=1e-40)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(1, 2), (1, 10), (7, 3), (33, 10)])
@pytest.mark.parametrize("labels", ["int", "onehot"])
def test_softmax_cross_entropy_matches_reference(labels, shape, layout, dtype):
    rng = np.random.default_rng(3)
    N, C = shape
    x = make(rng, shape, dtype, layout, scale=4.0)
    t_int = rng.integers(0, C, N)
    if labels == "int":
        t, fwd, bwd = t_int, K.softmax_cross_entropy_forward, K.softmax_cross_entropy_backward
    else:
        t = np.eye(C, dtype=dtype)[t_int]
        fwd = K.softmax_cross_entropy_forward_onehot
        bwd = K.softmax_cross_entropy_backward_onehot
    keep = frozen(x, t)

    layer = ref.SoftmaxWithLoss()
    expected_loss = layer.forward(x, t)
    y = np.empty(shape, dtype)
    loss = fwd(x, t, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(float(expected_loss), **{"rel": TOL[dtype]["rtol"],
                                                          "abs": TOL[dtype]["atol"]})
    close(y, layer.y, dtype)
    close(bwd(y, t, np.empty(shape, dtype)), layer.backward(), dtype)
    assert_unchanged([x, t], keep)


def test_softmax_cross_entropy_is_stable_for_huge_scores():
    x = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    y = np.empty_like(x)
    loss = K.softmax_cross_entropy_forward(x, np.array([2, 1]), y)
    # row 0: logsumexp = 1000, loss_0 = 2000; row 1: log 3
    assert loss == pytest.approx((2000.0 + np.log(3.0)) / 2, rel=1e-15)
    np.testing.assert_allclose(y[0], [1.0, 0.0, 0.0])
    assert np.isfinite(y).all()


def bn_reference_run(x, gamma, beta, dout, eps, momentum):
    layer = ref.BatchNormalization(gamma, beta, momentum=momentum, eps=eps)
    D = x.shape[1]
    layer.running_mean = np.linspace(-1, 1, D).astype(x.dtype)
    layer.running_var = np.linspace(0.5, 2, D).astype(x.dtype)
    start = (layer.running_mean.copy(), layer.running_var.copy())
    out = layer.forward(x, train_flg=True)
    dx = layer.backward(dout)
    return layer, start, out, dx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_train_and_backward_match_reference(shape, layout, dtype):
    rng = np.random.default_rng(4)
    N, D = shape
    eps, momentum = 1e-5, 0.9
    x = make(rng, shape, dtype, layout, loc=12.0, scale=5.0)
    gamma, beta = make(rng, (D,), dtype, "C"), make(rng, (D,), dtype, "C")
    dout = make(rng, shape, dtype, layout)
    keep = frozen(x, gamma, beta, dout)
    layer, (rm, rv), out_ref, dx_ref = bn_reference_run(x, gamma, beta, dout, eps, momentum)

    out, xhat = np.empty(shape, dtype), np.empty(shape, dtype)
    mean, invstd = np.empty(D, dtype), np.empty(D, dtype)
    assert K.batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd) is out
    close(out, out_ref, dtype)
    close(xhat, layer.xn, dtype)
    close(mean, x.mean(axis=0, dtype=np.float64), dtype)
    close(invstd, 1.0 / layer.std, dtype)

    K.batchnorm_running_update(rm, rv, mean, invstd, eps, momentum)
    close(rm, layer.running_mean, dtype)
    # running_var goes through 1/invstd² − eps: the subtraction loses digits when var ≪ 1
    np.testing.assert_allclose(rv, layer.running_var, rtol=10 * TOL[dtype]["rtol"])

    dx, dgamma, dbeta = np.empty(shape, dtype), np.empty(D, dtype), np.empty(D, dtype)
    assert K.batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta) is dx
    # dx is a difference of terms ~N·|dout| that nearly cancel; compare on that scale
    scale = np.abs(dout).sum(axis=0) * np.abs(gamma * invstd) / N
    assert np.all(np.abs(dx - dx_ref) <= 50 * np.finfo(dtype).eps * scale)
    close(dgamma, layer.dgamma, dtype)
    close(dbeta, layer.dbeta, dtype)
    assert_unchanged([x, gamma, beta, dout], keep)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (9, 13)])
def test_batchnorm_infer_matches_reference(shape, layout, dtype):
    rng = np.random.default_rng(5)
    D = shape[1]
    x = make(rng, shape, dtype, layout, loc=3.0, scale=2.0)
    gamma, beta = make(rng, (D,), dtype, "C"), make(rng, (D,), dtype, "C")
    running_mean = make(rng, (D,), dtype, "C")
    running_var = (1.0 + rng.random(D)).astype(dtype)
    keep = frozen(x, gamma, beta, running_mean, running_var)
    layer = ref.BatchNormalization(gamma, beta, running_mean=running_mean.copy(),
                                   running_var=running_var.copy(), eps=1e-5)
    out = K.batchnorm_forward_infer(x, gamma, beta, running_mean, running_var, 1e-5,
                                    np.empty(shape, dtype))
    close(out, layer.forward(x, train_flg=False), dtype)
    assert_unchanged([x, gamma, beta, running_mean, running_var], keep)


def test_batchnorm_backward_dx_sums_to_zero_per_feature():
    """Σ_n dx = 0 for any dout: the mean is subtracted, so shifting x changes nothing."""
    rng = np.random.default_rng(6)
    x = 5 * rng.standard_normal((32, 8)) + 12
    gamma, beta = rng.standard_normal(8), rng.standard_normal(8)
    out, xhat, mean, invstd = np.empty_like(x), np.empty_like(x), np.empty(8), np.empty(8)
    K.batchnorm_forward_train(x, gamma, beta, 1e-5, out, xhat, mean, invstd)
    dx = K.batchnorm_backward(rng.standard_normal((32, 8)), xhat, gamma, invstd,
                              np.empty_like(x), np.empty(8), np.empty(8))
    np.testing.assert_allclose(dx.sum(axis=0), 0.0, atol=1e-13)
    assert np.abs(dx).max() > 1e-3  # ... and is not zero itself


@pytest.mark.parametrize("dtype, loc, tol", [(np.float64, 1e6, 1e-9), (np.float32, 1e3, 1e-5)])
def test_batchnorm_statistics_survive_a_large_mean(dtype, loc, tol):
    """Statistics of loc + N(0, 1) data, even with an outlier in row 0 (the shift point).

    E[x²] − mu² would lose ~all digits here (x² ≈ loc², var ≈ 1); the kernel's shifted sums
    must still give var to ``tol`` relative to float64 two-pass statistics of the same data.
    """
    rng = np.random.default_rng(7)
    x = (loc + rng.standard_normal((300, 5))).astype(dtype)
    x[0, 1] = loc + 100.0  # the shift k = x[0] lies 100 standard deviations away
    out, xhat, mean, invstd = (np.empty_like(x), np.empty_like(x), np.empty(5, dtype),
                               np.empty(5, dtype))
    K.batchnorm_forward_train(x, np.ones(5, dtype), np.zeros(5, dtype), 0.0, out, xhat, mean,
                              invstd)
    x64 = x.astype(np.float64)
    var = ((x64 - x64.mean(axis=0)) ** 2).mean(axis=0)
    np.testing.assert_allclose(1.0 / invstd.astype(np.float64) ** 2, var, rtol=tol)
    np.testing.assert_allclose(mean, x64.mean(axis=0), rtol=tol)


# ---------------------------------------------------------------- helpers of the hot path
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_affine_backward_params_is_affine_backward_without_dx(layout, dtype):
    rng = np.random.default_rng(40)
    x, dout = make(rng, (9, 6), dtype, layout), make(rng, (9, 4), dtype, layout)
    W = make(rng, (6, 4), dtype, "C")
    _, dW, db = K.affine_backward(dout, x, W, np.empty((9, 6), dtype), np.empty((6, 4), dtype),
                                  np.empty(4, dtype))
    dW_only, db_only = K.affine_backward_params(dout, x, np.empty((6, 4), dtype),
                                                np.empty(4, dtype))
    np.testing.assert_array_equal(dW_only, dW)
    np.testing.assert_array_equal(db_only, db)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_sgd_update_in_place(layout, dtype):
    rng = np.random.default_rng(41)
    p, g = make(rng, (7, 5), dtype, layout), make(rng, (7, 5), dtype, layout)
    expected = p - dtype(0.1) * g
    keep = frozen(g)
    assert K.sgd_update(p, g, 0.1) is p
    close(p, expected, dtype)
    assert p.dtype == dtype
    assert_unchanged([g], keep)
    b = np.arange(4.0)
    K.sgd_update(b, np.ones(4), 0.5)  # 1-D, as the biases
    np.testing.assert_array_equal(b, [-0.5, 0.5, 1.5, 2.5])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_dropout_apply_mask_is_the_product_with_the_mask(layout, dtype):
    rng = np.random.default_rng(42)
    a = make(rng, (6, 5), dtype, layout)
    a[0, 0] = np.nan  # NaN·0 stays NaN (a diverging network stays diverged, as the book's)
    mask = rng.random((6, 5)) > 0.4
    mask[0, 0] = False
    out = K.dropout_apply_mask(a, mask, np.empty((6, 5), dtype))
    np.testing.assert_array_equal(out, a * mask)
    assert out.dtype == dtype
    y = K.dropout_apply_mask(a[0], mask[0], np.empty(5, dtype))  # any shape
    np.testing.assert_array_equal(y, a[0] * mask[0])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_all_finite(layout):
    x = make(np.random.default_rng(43), (5, 7), np.float64, layout)
    assert K.all_finite(x)
    x[1, 1] = 1e308  # large but finite
    assert K.all_finite(x)
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[4, 6] = bad
        assert not K.all_finite(y), bad


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_labels_in_range(dtype):
    t = np.array([0, 3, 9, 2], dtype=dtype)
    assert K.labels_in_range(t, 10)
    assert not K.labels_in_range(t, 9)  # 9 is not in [0, 9)
    if np.dtype(dtype).kind == "i":
        assert not K.labels_in_range(np.array([1, -1], dtype=dtype), 10)



# ---------------------------------------------------------------- fused hidden blocks
def _block_layer_by_layer(z, b, gamma, beta, dh, eps):
    """Bias, [BatchNorm], ReLU forward and backward with one kernel per layer, as the layers
    run them; gamma None means no BatchNorm.  Returns every array the fused kernels write."""
    N, D = z.shape
    z = z.copy()
    _add_bias(z, b)
    h, dz, db = np.empty_like(z), np.empty_like(z), np.empty_like(b)
    mask = np.empty(z.shape, np.bool_)
    if gamma is None:
        K.relu_forward(z, h, mask)
        K.relu_backward(dh, mask, dz)
        _sum_rows(dz, db)
        return dict(z=z, h=h, mask=mask, dz=dz, db=db)
    y, xhat, dy = np.empty_like(z), np.empty_like(z), np.empty_like(z)
    mean, invstd, dgamma, dbeta = (np.empty_like(b) for _ in range(4))
    K.batchnorm_forward_train(z, gamma, beta, eps, y, xhat, mean, invstd)
    K.relu_forward(y, h, mask)
    K.relu_backward(dh, mask, dy)
    K.batchnorm_backward(dy, xhat, gamma, invstd, dz, dgamma, dbeta)
    _sum_rows(dz, db)
    return dict(z=z, h=h, mask=mask, xhat=xhat, mean=mean, invstd=invstd, dz=dz,
                dgamma=dgamma, dbeta=dbeta, db=db)


def _block_fused(z, b, gamma, beta, dh, eps):
    z = z.copy()
    h, dz, db = np.empty_like(z), np.empty_like(z), np.empty_like(b)
    mask = np.empty(z.shape, np.bool_)
    if gamma is None:
        K.bias_relu_forward(z, b, h, mask)
        K.relu_bias_backward(dh, mask, dz, db)
        return dict(z=z, h=h, mask=mask, dz=dz, db=db)
    xhat = np.empty_like(z)
    mean, invstd, dgamma, dbeta = (np.empty_like(b) for _ in range(4))
    K.bias_batchnorm_relu_forward_train(z, b, gamma, beta, eps, xhat, mean, invstd, h, mask)
    K.relu_batchnorm_bias_backward(dh, mask, xhat, gamma, invstd, dz, dgamma, dbeta, db)
    return dict(z=z, h=h, mask=mask, xhat=xhat, mean=mean, invstd=invstd, dz=dz,
                dgamma=dgamma, dbeta=dbeta, db=db)


def _block_reference(z, b, gamma, beta, dh, eps):
    """The same with the book-style layers of dlkit.reference."""
    z = z + b
    relu = ref.Relu()
    if gamma is None:
        h = relu.forward(z)
        dz = relu.backward(dh)
        return dict(z=z, h=h, dz=dz, db=dz.sum(axis=0))
    bn = ref.BatchNormalization(gamma, beta, eps=eps)
    h = relu.forward(bn.forward(z, train_flg=True))
    dz = bn.backward(relu.backward(dh))
    return dict(z=z, h=h, xhat=bn.xn, dz=dz, dgamma=bn.dgamma, dbeta=bn.dbeta,
                db=dz.sum(axis=0))  # the mask is compared exactly above


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("batchnorm", "shape"),
                         [(False, s) for s in SHAPES] + [(True, s) for s in BN_SHAPES])
def test_fused_block_kernels_equal_the_layer_kernels_bit_for_bit(batchnorm, shape, layout,
                                                                 dtype):
    """bias (+ BatchNorm) + ReLU in one kernel per direction gives exactly the numbers of the
    layer kernels run one after the other (so MultiLayerNet may use either), and matches
    the book-style reference layers."""
    rng = np.random.default_rng(11)
    N, D = shape
    z = make(rng, shape, dtype, layout, loc=0.5, scale=3.0)  # the Affine's x·W
    dh = make(rng, shape, dtype, layout)
    b = make(rng, (D,), dtype, "C")
    gamma = (1.0 + 0.5 * make(rng, (D,), dtype, "C")) if batchnorm else None
    beta = make(rng, (D,), dtype, "C") if batchnorm else None
    keep = frozen(z, dh, b)
    fused = _block_fused(z, b, gamma, beta, dh, 1e-5)
    layered = _block_layer_by_layer(z, b, gamma, beta, dh, 1e-5)
    assert fused.keys() == layered.keys()
    for name, value in layered.items():
        np.testing.assert_array_equal(fused[name], value, err_msg=name)
        assert fused[name].dtype == (np.bool_ if name == "mask" else dtype)
    reference = _block_reference(z.astype(np.float64), b, gamma, beta,
                                 dh.astype(np.float64), 1e-5)
    for name, value in reference.items():
        close(fused[name], value, dtype)
    np.testing.assert_array_equal(fused["mask"], reference["h"] <= 0)  # ReLU's mask
    assert_unchanged([z, dh, b], keep)


def test_every_kernel_that_computes_batchnorm_is_in_its_module():
    """The grader blocks dlkit.kernels.batchnorm where BatchNorm is the task: a kernel that
    computes BatchNorm elsewhere (a fused one) would let a submission around the block."""
    for name in K.__all__:
        kernel = getattr(K, name)
        module = getattr(getattr(kernel, "py_func", kernel), "__module__", "")
        if "batchnorm" in name:
            assert module == "dlkit.kernels.batchnorm", name
        else:
            assert module != "dlkit.kernels.batchnorm", name
