"""The book's layer API (``common/layers.py``) running on the Numba kernels.

Same classes and attributes as :mod:`dlkit.reference` — ``Affine``, ``BatchNormalization``,
``Relu``, ``Sigmoid``, ``Tanh``, ``SoftmaxWithLoss``, ``Dropout`` — with ``forward`` and
``backward`` side by side.  Each layer checks its inputs cheaply (type, dtype, shape; no
scan for NaN, which would cost more than the kernel) and raises ``TypeError``/``ValueError``
naming the argument, what was expected and what was given.  Inputs are never modified.

Buffers: a layer allocates its output and gradient arrays once and reuses them while the
shape and dtype stay the same, so a training loop does not allocate per step.  **The array
a layer returns belongs to the layer and is overwritten by its next forward/backward call;
copy it (``out.copy()``) to keep it.**  Supported dtypes: float32 and float64 (one dtype per
layer: x must have the dtype of the layer's parameters).
"""

import numbers

import numpy as np

from dlkit import kernels as K

__all__ = ["Affine", "BatchNormalization", "Dropout", "Relu", "Sigmoid", "SoftmaxWithLoss", "Tanh"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------- cheap input checks
# Each public method first runs one combined test for the common case (an ndarray of the
# right ndim, dtype and width); only when it fails do the detailed checks below run, to say
# exactly what is wrong.  That keeps a layer call within a microsecond of its kernel.
def _check_float_array(where, name, a):
    """Raise TypeError unless ``a`` is a float32/float64 ndarray."""
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"{where}: {name} must be a numpy.ndarray of float32 or float64, "
            f"got {type(a).__name__}"
        )
    if a.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{where}: {name} must have dtype float32 or float64, got {a.dtype}")


def _check_dtype(where, name, a, dtype, owner):
    if a.dtype != dtype:
        raise TypeError(
            f"{where}: {name} must have the dtype of {owner} ({dtype}), got {a.dtype}; "
            f"convert with .astype(np.{dtype})"
        )


def _batch(where, x, D, name, param, min_rows=1):
    """x as a 2-D (N, D) array (flattening (N, d1, d2, ...)), after checking it.

    ``D`` is the number of features the layer expects and ``param`` (called ``name``) the
    parameter whose dtype x must share; ``min_rows`` is the smallest valid N.
    """
    dtype = param.dtype
    if (type(x) is np.ndarray and x.ndim == 2 and x.dtype == dtype and x.shape[1] == D
            and x.shape[0] >= min_rows):
        return x  # the common case
    owner = f"{name} is {param.shape} {dtype}"
    _check_float_array(where, "x", x)
    if x.ndim < 2:
        raise ValueError(f"{where}: x must be a batch with at least 2 dimensions (N, ...), "
                         f"got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{where}: x is an empty batch (shape {x.shape}); expected N >= 1")
    x2 = x if x.ndim == 2 else x.reshape(x.shape[0], -1)
    if x2.shape[1] != D:
        raise ValueError(f"{where}: x must have {D} features per sample ({owner}), got shape "
                         f"{x.shape}")
    if x2.shape[0] < min_rows:
        raise ValueError(f"{where}: x must have N >= {min_rows} samples in training (the batch "
                         f"variance of one sample is 0), got shape {x.shape}; use "
                         f"train_flg=False for single samples")
    _check_dtype(where, "x", x, dtype, name)
    return x2


def _check_dout(where, dout, shape, dtype):
    """dout must be an ndarray of the forward output's shape and dtype."""
    if type(dout) is np.ndarray and dout.shape == shape and dout.dtype == dtype:
        return
    _check_float_array(where, "dout", dout)
    if dout.shape != shape:
        raise ValueError(
            f"{where}: dout must have the shape of the forward output {shape}, got {dout.shape}"
        )
    _check_dtype(where, "dout", dout, dtype, "the forward output")


def _like(a, shape):
    """a itself when it already has ``shape`` (the common 2-D case), else a reshaped view."""
    return a if a.shape == shape else a.reshape(shape)


def _not_called(where, first):
    return RuntimeError(f"{where} called before {first}; nothing to differentiate")


def _empty_if_changed(a, shape, dtype):
    """``a`` when it already has this shape and dtype, else a new empty array."""
    if a is not None and a.shape == shape and a.dtype == dtype:
        return a
    return np.empty(shape, dtype=dtype)


# ---------------------------------------------------------------- layers
class Affine:
    """Fully connected layer: out = x·W + b.

    x (N, D) or (N, d1, d2, ...) flattened to (N, D); W (D, M); b (M,); out (N, M).
    Backward: dx = dout·Wᵀ (shape of x), dW = xᵀ·dout, db = Σ_n dout;
    ``backward_params(dout)`` computes only dW and db (when dx is not needed).
    ``W`` and ``b`` are kept by reference (an optimizer updates them in place); ``dW``/``db``
    and the returned arrays are the layer's buffers, overwritten by the next call.
    """

    def __init__(self, W, b):
        _check_float_array("Affine", "W", W)
        if W.ndim != 2:
            raise ValueError(f"Affine: W must be 2-D (D, M), got shape {W.shape}")
        _check_float_array("Affine", "b", b)
        if b.shape != (W.shape[1],):
            raise ValueError(f"Affine: b must have shape ({W.shape[1]},) for W {W.shape}, "
                             f"got {b.shape}")
        _check_dtype("Affine", "b", b, W.dtype, "W")
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None
        self._out = self._dx = None

    def forward(self, x):
        W, b = self.W, self.b
        D, M = W.shape
        x2 = _batch("Affine.forward", x, D, "W", W)
        if b.shape != (M,) or b.dtype != W.dtype:
            raise ValueError(f"Affine.forward: b must be ({M},) {W.dtype} to match W, "
                             f"got {b.shape} {b.dtype}")
        self.original_x_shape = x.shape
        self.x = x2
        self._out = out = _empty_if_changed(self._out, (x2.shape[0], M), W.dtype)
        return K.affine_forward(x2, W, b, out)

    def _grad_buffers(self, dout):
        """Check dout against the forward and make sure dW, db exist."""
        if self.x is None:
            raise _not_called("Affine.backward", "Affine.forward")
        x, W = self.x, self.W
        _check_dout("Affine.backward", dout, (x.shape[0], W.shape[1]), W.dtype)
        self.dW = _empty_if_changed(self.dW, W.shape, W.dtype)
        self.db = _empty_if_changed(self.db, (W.shape[1],), W.dtype)

    def backward(self, dout):
        self._grad_buffers(dout)
        self._dx = dx = _empty_if_changed(self._dx, self.x.shape, self.W.dtype)
        K.affine_backward(dout, self.x, self.W, dx, self.dW, self.db)
        return _like(dx, self.original_x_shape)

    def backward_params(self, dout):
        """dW and db only, without dx; returns ``(dW, db)``.

        For a network's first layer, whose dx (the gradient with respect to the data)
        nothing uses: skipping dout·Wᵀ saves a third of the layer's matrix products.
        """
        self._grad_buffers(dout)
        return K.affine_backward_params(dout, self.x, self.dW, self.db)


class BatchNormalization:
    """Batch Normalization (Ioffe & Szegedy 2015) over the batch axis.

    Training (``train_flg=True``), per feature d over the N samples (N >= 2):
        mu = mean(x), var = mean((x − mu)²), xhat = (x − mu)/√(var + eps),
        out = gamma·xhat + beta,
        running_mean = momentum·running_mean + (1 − momentum)·mu   (same for running_var)
    Inference: out = gamma·(x − running_mean)/√(running_var + eps) + beta.
    Backward: dbeta = Σ dout, dgamma = Σ dout·xhat,
        dx = gamma/(N·√(var + eps))·(N·dout − dbeta − xhat·dgamma).

    x (N, D) or (N, ...) flattened to (N, D) with D = gamma.size.  ``gamma``/``beta`` are
    kept by reference; ``running_mean``/``running_var`` given here are copied (the layer
    updates its own copies in place); when None they start as zeros(D) on the first forward,
    as in the book.  Attributes after a training forward: ``xhat``, ``mean``, ``invstd``
    (= 1/√(var + eps)), ``batch_size``; after backward: ``dgamma``, ``dbeta``.  Returned
    arrays and these attributes are the layer's buffers, overwritten by the next call.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None,
                 eps=1e-5):
        where = "BatchNormalization"
        _check_float_array(where, "gamma", gamma)
        if gamma.ndim != 1 or gamma.size == 0:
            raise ValueError(f"{where}: gamma must be 1-D (D,) with D >= 1, got shape "
                             f"{gamma.shape}")
        _check_float_array(where, "beta", beta)
        if beta.shape != gamma.shape:
            raise ValueError(f"{where}: beta must have the shape of gamma {gamma.shape}, "
                             f"got {beta.shape}")
        _check_dtype(where, "beta", beta, gamma.dtype, "gamma")
        if not (isinstance(momentum, numbers.Real) and 0.0 <= momentum <= 1.0):
            raise ValueError(f"{where}: momentum must be a number in [0, 1], got {momentum!r}")
        if not (isinstance(eps, numbers.Real) and eps > 0.0):
            raise ValueError(f"{where}: eps must be a positive number, got {eps!r}")
        self.gamma = gamma
        self.beta = beta
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.running_mean = self._own_running(where, "running_mean", running_mean)
        self.running_var = self._own_running(where, "running_var", running_var)
        if (self.running_mean is None) != (self.running_var is None):
            raise ValueError(f"{where}: give both running_mean and running_var, or neither")
        self.input_shape = None
        self.batch_size = None
        self.xhat = None
        self.mean = None
        self.invstd = None
        self.dgamma = None
        self.dbeta = None
        self._out = self._dx = None

    def _own_running(self, where, name, a):
        if a is None:
            return None
        _check_float_array(where, name, a)
        if a.shape != self.gamma.shape:
            raise ValueError(f"{where}: {name} must have the shape of gamma {self.gamma.shape}, "
                             f"got {a.shape}")
        return np.array(a, dtype=self.gamma.dtype)  # our own copy, updated in place

    def _running(self, where):
        """(running_mean, running_var): zeros(D) on first use (as the book); after that they
        must be (D,) arrays."""
        rm, rv, shape = self.running_mean, self.running_var, self.gamma.shape
        if (type(rm) is np.ndarray and type(rv) is np.ndarray and rm.shape == shape
                and rv.shape == shape):
            return rm, rv  # the common case
        if rm is None and rv is None:
            self.running_mean = np.zeros(shape, dtype=self.gamma.dtype)
            self.running_var = np.zeros(shape, dtype=self.gamma.dtype)
            return self.running_mean, self.running_var
        for name, r in (("running_mean", rm), ("running_var", rv)):
            if not isinstance(r, np.ndarray) or r.shape != shape:
                raise ValueError(f"{where}: {name} must be an ndarray of shape {shape}, got "
                                 f"{getattr(r, 'shape', type(r).__name__)}")
        return rm, rv

    def _train_buffers(self, shape):
        """(xhat, mean, invstd) for a training forward on an (N, D) batch of ``shape``."""
        xhat, dtype = self.xhat, self.gamma.dtype
        if xhat is None or xhat.shape != shape or xhat.dtype != dtype:
            self.xhat = np.empty(shape, dtype)  # mean, invstd: (D,) follow xhat's (N, D)
            self.mean, self.invstd = np.empty(shape[1], dtype), np.empty(shape[1], dtype)
        return self.xhat, self.mean, self.invstd

    def _grad_buffers(self):
        """(dx, dgamma, dbeta) for a backward after the last training forward."""
        dx, xhat = self._dx, self.xhat
        if dx is None or dx.shape != xhat.shape or dx.dtype != xhat.dtype:
            self._dx = np.empty_like(xhat)  # dgamma, dbeta: (D,) follow dx's (N, D)
            self.dgamma, self.dbeta = np.empty_like(self.gamma), np.empty_like(self.gamma)
        return self._dx, self.dgamma, self.dbeta

    def forward(self, x, train_flg=True):
        where = "BatchNormalization.forward"
        gamma, beta = self.gamma, self.beta
        D, dtype = gamma.shape[0], gamma.dtype
        x2 = _batch(where, x, D, "gamma", gamma, min_rows=2 if train_flg else 1)
        rm, rv = self._running(where)
        N = x2.shape[0]
        self.input_shape = x.shape
        self._out = out = _empty_if_changed(self._out, x2.shape, dtype)
        if not train_flg:
            K.batchnorm_forward_infer(x2, gamma, beta, rm, rv, self.eps, out)
            return _like(out, x.shape)
        xhat, mean, invstd = self._train_buffers(x2.shape)
        K.batchnorm_forward_train(x2, gamma, beta, self.eps, out, xhat, mean, invstd)
        K.batchnorm_running_update(rm, rv, mean, invstd, self.eps, self.momentum)
        self.batch_size = N
        return _like(out, x.shape)

    def backward(self, dout):
        where = "BatchNormalization.backward"
        if self.batch_size is None:
            raise _not_called(where, "a training forward (train_flg=True)")
        xhat, gamma = self.xhat, self.gamma
        _check_dout(where, dout, self.input_shape, gamma.dtype)
        dx, dgamma, dbeta = self._grad_buffers()
        K.batchnorm_backward(_like(dout, xhat.shape), xhat, gamma, self.invstd, dx, dgamma,
                             dbeta)
        return _like(dx, self.input_shape)


class _Elementwise:
    """Shared plumbing of Relu, Sigmoid, Tanh: out = f(x), dx = dout·f'(x) from out.

    Any shape (N, ...) with N >= 1; the kernels see it as (N, rest) (a 1-D x as one row).
    """

    _forward = None  # kernel (x, out) -> out
    _backward = None  # kernel (dout, out, dx) -> dx

    def __init__(self):
        self.out = None
        self._out2 = self._dx = None

    def forward(self, x):
        if type(x) is np.ndarray and x.ndim == 2 and x.dtype in _FLOAT_DTYPES and x.size:
            x2 = x  # the common case
        else:
            where = f"{type(self).__name__}.forward"
            _check_float_array(where, "x", x)
            if x.size == 0:
                raise ValueError(f"{where}: x is an empty batch (shape {x.shape}); expected "
                                 f"at least one value")
            x2 = x.reshape(1, -1) if x.ndim < 2 else x.reshape(x.shape[0], -1)
        self._out2 = out = _empty_if_changed(self._out2, x2.shape, x.dtype)
        self._forward(x2, out)
        self.out = _like(out, x.shape)
        return self.out

    def backward(self, dout):
        if self.out is None:
            raise _not_called(f"{type(self).__name__}.backward", f"{type(self).__name__}.forward")
        out2 = self._out2
        _check_dout(f"{type(self).__name__}.backward", dout, self.out.shape, out2.dtype)
        self._dx = dx = _empty_if_changed(self._dx, out2.shape, out2.dtype)
        self._backward(_like(dout, out2.shape), out2, dx)
        return _like(dx, self.out.shape)


class Relu(_Elementwise):
    """out = max(x, 0); dx = dout where out > 0, else 0.  Any shape (N, ...)."""

    _forward = staticmethod(K.relu_forward)
    _backward = staticmethod(K.relu_backward)


class Sigmoid(_Elementwise):
    """out = 1/(1 + exp(−x)); dx = dout·out·(1 − out).  Any shape (N, ...)."""

    _forward = staticmethod(K.sigmoid_forward)
    _backward = staticmethod(K.sigmoid_backward)


class Tanh(_Elementwise):
    """out = tanh(x); dx = dout·(1 − out²).  Any shape (N, ...)."""

    _forward = staticmethod(K.tanh_forward)
    _backward = staticmethod(K.tanh_backward)


class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy loss.

    forward(x, t): x (N, C) scores; t integer labels (N,) in [0, C) or one-hot (N, C)
    (soft labels whose rows sum to 1 also work).  y = softmax(x) (N, C);
    loss = (1/N) Σ_n (logsumexp(x_n) − x_n[t_n]), computed stably (no log(0)).
    backward(dout=1): dx = dout · (y − onehot(t)) / N.  Attributes ``y``, ``t``, ``loss``.
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None
        self._t = None  # t as the kernel takes it (intp labels or one-hot in x's dtype)
        self._dx = None

    def forward(self, x, t):
        where = "SoftmaxWithLoss.forward"
        if not (type(x) is np.ndarray and x.ndim == 2 and x.dtype in _FLOAT_DTYPES
                and x.size):
            _check_float_array(where, "x", x)
            if x.ndim != 2:
                raise ValueError(f"{where}: x must be 2-D scores (N, C), got shape {x.shape}")
            if x.size == 0:
                raise ValueError(f"{where}: x is an empty batch (shape {x.shape}); expected "
                                 f"N >= 1")
        N, C = x.shape
        self.y = y = _empty_if_changed(self.y, (N, C), x.dtype)
        if not isinstance(t, np.ndarray):
            raise TypeError(f"{where}: t must be a numpy.ndarray of integer labels ({N},) or "
                            f"one-hot ({N}, {C}), got {type(t).__name__}")
        if t.ndim == 1:
            if t.shape[0] != N:
                raise ValueError(f"{where}: t must have shape ({N},) to match x {x.shape}, "
                                 f"got {t.shape}")
            if t.dtype.kind not in "iu":
                raise TypeError(f"{where}: labels t of shape ({N},) must have an integer dtype, "
                                f"got {t.dtype}")
            if not K.labels_in_range(t, C):  # an out-of-range label would index outside y
                lo, hi = int(t.min()), int(t.max())
                raise ValueError(f"{where}: labels t must be in [0, {C}) for {C} classes, got "
                                 f"values in [{lo}, {hi}]")
            kt = t.astype(np.intp, copy=False)
            self.loss = K.softmax_cross_entropy_forward(x, kt, y)
        elif t.ndim == 2:
            if t.shape != (N, C):
                raise ValueError(f"{where}: one-hot t must have shape ({N}, {C}) to match x, "
                                 f"got {t.shape}")
            if t.dtype.kind not in "biuf":
                raise TypeError(f"{where}: one-hot t must be numeric, got dtype {t.dtype}")
            kt = t.astype(x.dtype, copy=False)
            self.loss = K.softmax_cross_entropy_forward_onehot(x, kt, y)
        else:
            raise ValueError(f"{where}: t must be integer labels ({N},) or one-hot ({N}, {C}), "
                             f"got shape {t.shape}")
        self.t, self._t = t, kt
        return self.loss

    def backward(self, dout=1):
        where = "SoftmaxWithLoss.backward"
        if self._t is None:
            raise _not_called(where, "SoftmaxWithLoss.forward")
        if not isinstance(dout, numbers.Real) or isinstance(dout, bool):
            raise TypeError(f"{where}: dout must be a real number (the upstream gradient of "
                            f"the scalar loss), got {type(dout).__name__}")
        y = self.y
        self._dx = dx = _empty_if_changed(self._dx, y.shape, y.dtype)
        if self._t.ndim == 1:
            K.softmax_cross_entropy_backward(y, self._t, dx)
        else:
            K.softmax_cross_entropy_backward_onehot(y, self._t, dx)
        if dout != 1:
            dx *= dout
        return dx


class Dropout:
    """Dropout as in the book (not inverted): training out = x·mask, mask = U(0,1) > ratio;
    inference out = x·(1 − dropout_ratio); backward dx = dout·mask.

    ``rng``: a numpy.random.Generator, an int seed, or None (fresh entropy).  The mask is
    drawn as ``rng.random(x.shape) > dropout_ratio`` (float64 uniforms whatever x's dtype),
    so the same seed gives the same mask as :class:`dlkit.reference.Dropout`.
    """

    def __init__(self, dropout_ratio=0.5, rng=None):
        if not (isinstance(dropout_ratio, numbers.Real) and 0.0 <= dropout_ratio < 1.0):
            raise ValueError(f"Dropout: dropout_ratio must be a number in [0, 1), got "
                             f"{dropout_ratio!r}")
        if not (rng is None or isinstance(rng, (numbers.Integral, np.random.Generator))):
            raise TypeError(f"Dropout: rng must be None, an int seed or a "
                            f"numpy.random.Generator, got {type(rng).__name__}")
        self.dropout_ratio = float(dropout_ratio)
        self.rng = np.random.default_rng(rng)
        self.mask = None
        self._out = self._u = self._dx = None

    def forward(self, x, train_flg=True):
        where = "Dropout.forward"
        _check_float_array(where, "x", x)
        if x.size == 0:
            raise ValueError(f"{where}: x is an empty batch (shape {x.shape}); expected at "
                             f"least one value")
        self._out = out = _empty_if_changed(self._out, x.shape, x.dtype)
        if not train_flg:
            return np.multiply(x, 1.0 - self.dropout_ratio, out=out)
        self._u = u = _empty_if_changed(self._u, x.shape, np.float64)
        self.rng.random(out=u)
        self.mask = np.greater(u, self.dropout_ratio,
                               out=_empty_if_changed(self.mask, x.shape, np.bool_))
        return K.dropout_apply_mask(x, self.mask, out)

    def backward(self, dout):
        where = "Dropout.backward"
        if self.mask is None:
            raise _not_called(where, "a training forward (train_flg=True)")
        _check_dout(where, dout, self.mask.shape, self._out.dtype)
        self._dx = dx = _empty_if_changed(self._dx, dout.shape, dout.dtype)
        return K.dropout_apply_mask(dout, self.mask, dx)
