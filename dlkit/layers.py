"""The book's layer API (``common/layers.py``) running on the Numba kernels.

The classes of :mod:`dlkit.reference` - ``Affine``, ``BatchNormalization``, ``Relu``,
``Sigmoid``, ``Tanh``, ``SoftmaxWithLoss``, ``Dropout`` - with the same public attributes,
under the book's names (``Affine.x``, ``dW``, ``db``; ``Relu.mask``; ``Sigmoid.out``;
``BatchNormalization.xc``, ``xn``, ``std``, ``batch_size``, ``dgamma``, ``dbeta``, running
statistics; ``Dropout.mask``; ``SoftmaxWithLoss.y``, ``t``, ``loss``), and ``forward`` /
``backward`` side by side.  One attribute more: ``state`` (below).

**Arrays are the caller's, as in the book.**  What ``forward`` and ``backward`` return, and
the arrays a layer shows as attributes, never change under the caller: a later call writes
into an array only when nobody else holds it any more (:func:`dlkit.buffers.take`), so a
training loop that lets each step's arrays go allocates nothing, and one that keeps them
keeps exactly what it was given.

**State.**  Each layer keeps what its forward leaves for its backward (the input, the mask,
the normalized input, ...) and what its backward leaves for the optimizer (the gradients)
in one state object, ``layer.state`` (the spirit of CS231n's ``cache``).  The layer's own
kernels write it, and so do the fused kernels that ``MultiLayerNet`` trains with
(:mod:`dlkit.blocks`); the book's attributes read from it.

**Input.**  Each layer checks its input cheaply (type, dtype, shape; no scan for NaN, which
would cost more than the kernel) and raises ``TypeError``/``ValueError`` naming the argument,
what was expected and what was given.  Inputs are never modified.  A layer computes in the
dtype of its parameters (float64 or float32); input of another float dtype is converted as
NumPy would promote it (float32 into float64 parameters), never narrowed (float64 into
float32 parameters is a TypeError).  Layers without parameters compute in x's dtype.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlkit import kernels as K
from dlkit import validate
from dlkit.buffers import OWNED_LOCAL, take

__all__ = [
    "Affine",
    "AffineState",
    "ActivationState",
    "BatchNormalization",
    "BatchNormState",
    "Dropout",
    "DropoutState",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "SoftmaxWithLossState",
    "Tanh",
]

Array = np.ndarray
Shape = tuple[int, ...]


# ---------------------------------------------------------------- state objects
@dataclass(slots=True)
class AffineState:
    """Affine's forward input and backward results (``out``, ``dx``: the arrays handed out
    last, kept so that ``take`` can write a later result into them)."""
    x: Array | None = None  # the input as (N, D)
    original_x_shape: Shape | None = None
    dW: Array | None = None
    db: Array | None = None
    out: Array | None = None
    dx: Array | None = None
    spares: dict[str, Array] = field(default_factory=dict)  # see dlkit.buffers.take


@dataclass(slots=True)
class BatchNormState:
    """What a training forward leaves for BatchNorm's backward, and the backward's results.

    ``xhat`` (N, D) = (x − mean)·invstd, ``mean`` and ``invstd`` = 1/√(var + eps) (D,) are
    what the kernels compute with (the book's ``xn``; its ``xc`` and ``std`` follow from them).
    """
    input_shape: Shape | None = None
    batch_size: int | None = None
    xhat: Array | None = None
    mean: Array | None = None
    invstd: Array | None = None
    dgamma: Array | None = None
    dbeta: Array | None = None
    out: Array | None = None
    dx: Array | None = None
    spares: dict[str, Array] = field(default_factory=dict)  # see dlkit.buffers.take

    def train_buffers(self, shape: Shape, dtype: Any) -> tuple[Array, Array, Array]:
        """(xhat, mean, invstd) for a training forward on an (N, D) batch of ``shape``.

        ``mean`` and ``invstd`` are only read by backward (the layer's ``std`` and ``xc``
        are new arrays made from them), so they are simply overwritten."""
        xhat, mean, invstd = self.xhat, self.mean, self.invstd
        if (xhat is not None and mean is not None and invstd is not None
                and xhat.shape == shape and xhat.dtype == dtype
                and sys.getrefcount(xhat) <= OWNED_LOCAL):
            return xhat, mean, invstd  # the common case, checked at once
        del xhat  # (not to be counted as a holder by take)
        if mean is None or invstd is None or mean.shape != shape[1:] or mean.dtype != dtype:
            self.mean = mean = np.empty(shape[1:], dtype)
            self.invstd = invstd = np.empty(shape[1:], dtype)
        return take(self, "xhat", shape, dtype), mean, invstd

    def grad_buffers(self, shape: Shape, dtype: Any) -> tuple[Array, Array, Array]:
        """(dx, dgamma, dbeta) for a backward on an (N, D) batch of ``shape``."""
        dx, dgamma, dbeta = self.dx, self.dgamma, self.dbeta
        if (dx is not None and dgamma is not None and dbeta is not None and dx.shape == shape
                and dx.dtype == dtype and sys.getrefcount(dx) <= OWNED_LOCAL
                and sys.getrefcount(dgamma) <= OWNED_LOCAL
                and sys.getrefcount(dbeta) <= OWNED_LOCAL):
            return dx, dgamma, dbeta  # the common case, checked at once
        del dx  # (not to be counted as a holder by take; a caller often keeps dx a while)
        if not (dgamma is not None and dbeta is not None and dgamma.shape == shape[1:]
                and dgamma.dtype == dtype and sys.getrefcount(dgamma) <= OWNED_LOCAL
                and sys.getrefcount(dbeta) <= OWNED_LOCAL):
            del dgamma, dbeta
            dgamma, dbeta = take(self, "dgamma", shape[1:], dtype), take(self, "dbeta",
                                                                         shape[1:], dtype)
        return take(self, "dx", shape, dtype), dgamma, dbeta


@dataclass(slots=True)
class ActivationState:
    """Relu's ``mask`` (x <= 0), or Sigmoid's and Tanh's ``out``; the arrays handed out."""
    out: Array | None = None
    mask: Array | None = None
    dx: Array | None = None
    spares: dict[str, Array] = field(default_factory=dict)  # see dlkit.buffers.take


@dataclass(slots=True)
class DropoutState:
    """Dropout's keep-``mask``, the uniform draws it came from, and the arrays handed out."""
    mask: Array | None = None
    uniform: Array | None = None
    out: Array | None = None
    dx: Array | None = None
    spares: dict[str, Array] = field(default_factory=dict)  # see dlkit.buffers.take


@dataclass(slots=True)
class SoftmaxWithLossState:
    """The softmax ``y``, the labels ``t`` as given and as the kernel takes them, the loss."""
    loss: float | None = None
    y: Array | None = None
    t: Array | None = None
    labels: Array | None = None  # intp labels (N,) or one-hot rows in x's dtype
    dx: Array | None = None
    spares: dict[str, Array] = field(default_factory=dict)  # see dlkit.buffers.take


def _book_attr(name: str, doc: str) -> property:
    """The book's attribute ``name`` of a layer, kept in the layer's state object."""

    def get(layer: Any) -> Any:
        return getattr(layer.state, name)

    def set_(layer: Any, value: Any) -> None:
        setattr(layer.state, name, value)

    return property(get, set_, doc=doc)


# ---------------------------------------------------------------- cheap input checks
# Each public method first runs one combined test for the common case (an ndarray of the
# right ndim, dtype and width); only when it fails do the detailed checks below run, to say
# exactly what is wrong (or to convert a float input of a narrower dtype).
def _batch(where: str, x: Any, D: int, dtype: np.dtype, name: str, param: Array) -> Array:
    """x as a 2-D (N, D) array of ``dtype`` (flattening (N, d1, d2, ...)), after checking it.

    ``param`` (called ``name``) is the parameter that fixes D and the dtype, for the messages.
    """
    if (type(x) is np.ndarray and x.ndim == 2 and x.dtype == dtype and x.shape[1] == D
            and x.shape[0]):
        return x  # the common case
    validate.float_array("x", x, where)
    if x.ndim < 2:
        raise ValueError(f"{where}: x must be a batch with at least 2 dimensions (N, ...), "
                         f"got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{where}: x is an empty batch (shape {x.shape}); expected N >= 1")
    x2 = x if x.ndim == 2 else x.reshape(x.shape[0], -1)
    if x2.shape[1] != D:
        raise ValueError(f"{where}: x must have {D} features per sample ({name} is "
                         f"{param.shape} {param.dtype}), got shape {x.shape}")
    if x2.dtype != dtype:
        x2 = x2.astype(validate.compute_dtype("x", x2.dtype, dtype, where))
    return x2


def _values(where: str, x: Any) -> Array:
    """x (any shape, at least one value) as an array the kernels take, for the layers without
    parameters: float32 and float64 as they are, a narrower float promoted to float32."""
    if type(x) is np.ndarray and x.dtype in validate.FLOAT_DTYPES and x.size:
        return x  # the common case
    validate.float_array("x", x, where)
    if x.size == 0:
        raise ValueError(f"{where}: x is an empty batch (shape {x.shape}); expected at least "
                         f"one value")
    if x.dtype in validate.FLOAT_DTYPES:
        return x
    target = np.dtype(np.float32 if np.can_cast(x.dtype, np.float32) else np.float64)
    return x.astype(validate.compute_dtype("x", x.dtype, target, where))


def _rows(a: Array) -> Array:
    """a as the 2-D (N, rest) array the kernels take (a 1-D array as one row)."""
    if a.ndim == 2:
        return a
    return a.reshape(1, -1) if a.ndim < 2 else a.reshape(a.shape[0], -1)


def _dout(where: str, dout: Any, shape: Shape, dtype: np.dtype) -> Array:
    """dout checked against the forward output's shape, in the layer's dtype."""
    if type(dout) is np.ndarray and dout.shape == shape and dout.dtype == dtype:
        return dout
    validate.float_array("dout", dout, where)
    if dout.shape != shape:
        raise ValueError(f"{where}: dout must have the shape of the forward output {shape}, "
                         f"got {dout.shape}")
    if dout.dtype != dtype:
        return dout.astype(validate.compute_dtype("dout", dout.dtype, dtype, where))
    return dout


def _dout_values(where: str, dout: Any, shape: Shape) -> Array:
    """dout of a layer without parameters: checked against the forward's shape, computed in
    its own float dtype (as ``_values``)."""
    dout = _values(where, dout)
    if dout.shape != shape:
        raise ValueError(f"{where}: dout must have the shape of the forward output {shape}, "
                         f"got {dout.shape}")
    return dout


def _out(where: str, out: Any, shape: Shape, dtype: np.dtype) -> Array:
    """An ``out=`` array given by the caller: C-contiguous, of the result's shape and dtype."""
    if not isinstance(out, np.ndarray) or out.dtype != dtype:
        got = f"dtype {out.dtype}" if isinstance(out, np.ndarray) else type(out).__name__
        raise TypeError(f"{where}: out must be a numpy.ndarray of dtype {dtype}, got {got}")
    if out.shape != shape or not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"{where}: out must be a writeable C-contiguous array of shape "
                         f"{shape}, got shape {out.shape}"
                         + ("" if out.flags.c_contiguous else ", not C-contiguous")
                         + ("" if out.flags.writeable else ", read-only"))
    return out


def _shaped(a: Array, shape: Shape) -> Array:
    """a itself when it already has ``shape`` (the common 2-D case), else a reshaped view."""
    return a if a.shape == shape else a.reshape(shape)


def _not_called(where: str, first: str) -> RuntimeError:
    return RuntimeError(f"{where} called before {first}; nothing to differentiate")


def _same_dtype(where: str, name: str, a: Array, dtype: np.dtype, owner: str) -> None:
    if a.dtype != dtype:
        raise TypeError(f"{where}: {name} must have the dtype of {owner} ({dtype}), got "
                        f"{a.dtype}")


# ---------------------------------------------------------------- layers
class Affine:
    """Fully connected layer: out = x·W + b.

    x (N, D) or (N, d1, d2, ...) flattened to (N, D); W (D, M); b (M,); out (N, M).
    Backward: dx = dout·Wᵀ (shape of x), dW = xᵀ·dout, db = Σ_n dout;
    ``backward_params(dout)`` computes only dW and db (when dx is not needed).
    ``W`` and ``b`` are kept by reference (an optimizer updates them in place).
    """

    x = _book_attr("x", "The input of the last forward, as (N, D).")
    original_x_shape = _book_attr("original_x_shape", "The shape x had when it was given.")
    dW = _book_attr("dW", "∂L/∂W (D, M) from the last backward.")
    db = _book_attr("db", "∂L/∂b (M,) from the last backward.")

    def __init__(self, W: Array, b: Array) -> None:
        validate.float_array("W", W, "Affine")
        if W.ndim != 2 or W.dtype not in validate.FLOAT_DTYPES:
            raise ValueError(f"Affine: W must be a 2-D (D, M) float32 or float64 array, got "
                             f"{W.shape} {W.dtype}")
        validate.float_array("b", b, "Affine")
        if b.shape != (W.shape[1],):
            raise ValueError(f"Affine: b must have shape ({W.shape[1]},) for W {W.shape}, "
                             f"got {b.shape}")
        _same_dtype("Affine", "b", b, W.dtype, "W")
        self.W = W
        self.b = b
        self.state = AffineState()

    def forward(self, x: Array) -> Array:
        W, b, st = self.W, self.b, self.state
        D, M = W.shape
        x2 = _batch("Affine.forward", x, D, W.dtype, "W", W)
        if b.shape != (M,) or b.dtype != W.dtype:
            raise ValueError(f"Affine.forward: b must be ({M},) {W.dtype} to match W, "
                             f"got {b.shape} {b.dtype}")
        st.x, st.original_x_shape = x2, x.shape
        out = take(st, "out", (x2.shape[0], M), W.dtype)
        return K.affine_forward(x2, W, b, out)

    def _grads(self, dout: Any) -> tuple[Array, Array, Array, Array]:
        """(dout, x, dW, db): dout checked against the last forward, its x, the gradients."""
        W, st = self.W, self.state
        x = st.x
        if x is None:
            raise _not_called("Affine.backward", "Affine.forward")
        dout = _dout("Affine.backward", dout, (x.shape[0], W.shape[1]), W.dtype)
        dW = take(st, "dW", W.shape, W.dtype)
        db = take(st, "db", (W.shape[1],), W.dtype)
        return dout, x, dW, db

    def backward(self, dout: Array) -> Array:
        dout, x, dW, db = self._grads(dout)
        st = self.state
        dx = take(st, "dx", x.shape, self.W.dtype)
        K.affine_backward(dout, x, self.W, dx, dW, db)
        return _shaped(dx, st.original_x_shape or x.shape)

    def backward_params(self, dout: Array) -> tuple[Array, Array]:
        """dW and db only, without dx; returns ``(dW, db)``.

        For a network's first layer, whose dx (the gradient with respect to the data)
        nothing uses: skipping dout·Wᵀ saves a third of the layer's matrix products.
        """
        dout, x, dW, db = self._grads(dout)
        return K.affine_backward_params(dout, x, dW, db)


class BatchNormalization:
    """Batch Normalization (Ioffe & Szegedy 2015) over the batch axis.

    Training (``train_flg=True``), per feature d over the N samples (N >= 1):
        mu = mean(x), var = mean((x − mu)²), xn = (x − mu)/√(var + eps),
        out = gamma·xn + beta,
        running_mean = momentum·running_mean + (1 − momentum)·mu   (same for running_var)
    Inference: out = gamma·(x − running_mean)/√(running_var + eps) + beta.
    Backward: dbeta = Σ dout, dgamma = Σ dout·xn,
        dx = gamma/(N·√(var + eps))·(N·dout − dbeta − xn·dgamma).

    A batch of one sample normalizes to xn = 0 (its variance is 0), so out = beta and dx = 0,
    as in the book.  x (N, D) or (N, ...) flattened to (N, D) with D = gamma.size.
    ``gamma``/``beta`` are kept by reference; ``running_mean``/``running_var`` given here are
    copied (the layer updates its own copies in place); when None they become zeros(D) on
    the first forward, as in the book.  eps defaults to the book's 1e-6 (written ``10e-7``
    there).  After a training forward: ``xn``, ``xc`` = x − mu, ``std`` = √(var + eps),
    ``batch_size``; after backward: ``dgamma``, ``dbeta``.
    """

    input_shape = _book_attr("input_shape", "The shape of the last forward's x.")
    batch_size = _book_attr("batch_size", "N of the last training forward.")
    xn = _book_attr("xhat", "xn = (x − mu)/√(var + eps) (N, D) of the last training forward.")
    dgamma = _book_attr("dgamma", "∂L/∂gamma (D,) from the last backward.")
    dbeta = _book_attr("dbeta", "∂L/∂beta (D,) from the last backward.")

    def __init__(self, gamma: Array, beta: Array, momentum: float = 0.9,
                 running_mean: Array | None = None, running_var: Array | None = None,
                 eps: float = 1e-6) -> None:
        where = "BatchNormalization"
        validate.float_array("gamma", gamma, where)
        if gamma.ndim != 1 or gamma.size == 0 or gamma.dtype not in validate.FLOAT_DTYPES:
            raise ValueError(f"{where}: gamma must be a 1-D (D,) float32 or float64 array "
                             f"with D >= 1, got {gamma.shape} {gamma.dtype}")
        validate.float_array("beta", beta, where)
        if beta.shape != gamma.shape:
            raise ValueError(f"{where}: beta must have the shape of gamma {gamma.shape}, "
                             f"got {beta.shape}")
        _same_dtype(where, "beta", beta, gamma.dtype, "gamma")
        self.gamma = gamma
        self.beta = beta
        self.momentum = validate.number("momentum", momentum, 0.0, 1.0, where=where)
        self.eps = validate.positive_number("eps", eps, where)
        self.running_mean = self._own(where, "running_mean", running_mean)
        self.running_var = self._own(where, "running_var", running_var)
        if (self.running_mean is None) != (self.running_var is None):
            raise ValueError(f"{where}: give both running_mean and running_var, or neither")
        self.state = BatchNormState()

    @property
    def std(self) -> Array | None:
        """std = √(var + eps) (D,) of the last training forward."""
        invstd = self.state.invstd
        return None if invstd is None else 1.0 / invstd

    @property
    def xc(self) -> Array | None:
        """xc = x − mu (N, D) of the last training forward (= xn·std)."""
        st = self.state
        return None if st.xhat is None else st.xhat / st.invstd

    def _own(self, where: str, name: str, a: Array | None) -> Array | None:
        if a is None:
            return None
        validate.float_array(name, a, where)
        if a.shape != self.gamma.shape:
            raise ValueError(f"{where}: {name} must have the shape of gamma {self.gamma.shape}, "
                             f"got {a.shape}")
        return np.array(a, dtype=self.gamma.dtype)  # our own copy, updated in place

    def running_stats(self) -> tuple[Array, Array]:
        """(running_mean, running_var), made zeros(D) on first use (as the book does), then
        checked to be (D,) arrays of gamma's dtype, which training updates in place."""
        rm, rv, gamma = self.running_mean, self.running_var, self.gamma
        if (type(rm) is np.ndarray and type(rv) is np.ndarray and rm.shape == gamma.shape
                and rv.shape == gamma.shape and rm.dtype == rv.dtype == gamma.dtype):
            return rm, rv  # the common case
        if rm is None and rv is None:
            self.running_mean = np.zeros(gamma.shape, dtype=gamma.dtype)
            self.running_var = np.zeros(gamma.shape, dtype=gamma.dtype)
            return self.running_mean, self.running_var
        for name, r in (("running_mean", rm), ("running_var", rv)):
            if not (isinstance(r, np.ndarray) and r.shape == gamma.shape
                    and r.dtype == gamma.dtype):
                got = f"{r.shape} {r.dtype}" if isinstance(r, np.ndarray) else type(r).__name__
                raise ValueError(f"BatchNormalization: {name} must be an array of shape "
                                 f"{gamma.shape} and dtype {gamma.dtype}, got {got}")
        assert rm is not None and rv is not None  # both checked just above
        return rm, rv

    def forward(self, x: Array, train_flg: bool = True) -> Array:
        gamma, beta, st = self.gamma, self.beta, self.state
        dtype = gamma.dtype
        x2 = _batch("BatchNormalization.forward", x, gamma.shape[0], dtype, "gamma", gamma)
        rm, rv = self.running_stats()
        st.input_shape = x.shape
        out = take(st, "out", x2.shape, dtype)
        if not train_flg:
            K.batchnorm_forward_infer(x2, gamma, beta, rm, rv, self.eps, out)
        else:
            xhat, mean, invstd = st.train_buffers(x2.shape, dtype)
            K.batchnorm_forward_train(x2, gamma, beta, self.eps, out, xhat, mean, invstd)
            K.batchnorm_running_update(rm, rv, mean, invstd, self.eps, self.momentum)
            st.batch_size = x2.shape[0]
        return out if x2 is x else out.reshape(x.shape)

    def backward(self, dout: Array) -> Array:
        where = "BatchNormalization.backward"
        st, gamma = self.state, self.gamma
        xhat, invstd, shape = st.xhat, st.invstd, st.input_shape
        if st.batch_size is None or xhat is None or invstd is None or shape is None:
            raise _not_called(where, "a training forward (train_flg=True)")
        dout = _dout(where, dout, shape, gamma.dtype)
        dx, dgamma, dbeta = st.grad_buffers(xhat.shape, gamma.dtype)
        if dout.shape != xhat.shape:  # (N, d1, d2, ...) as (N, D)
            dout = dout.reshape(xhat.shape)
        K.batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta)
        return dx if dx.shape == shape else dx.reshape(shape)


class _Elementwise:
    """Shared plumbing of Relu, Sigmoid, Tanh: out = f(x) element by element.

    Any shape (N, ...) with at least one value; the kernels see it as (N, rest) (a 1-D x as
    one row).  ``forward(x, out=None)``: as NumPy's ``out=``, a C-contiguous array of x's
    shape and dtype to write the result into, which forward then returns.
    """

    def __init__(self) -> None:
        self.state = ActivationState()


class Relu(_Elementwise):
    """out = max(x, 0), mask = (x <= 0) as the book keeps it; dx = dout where not mask, else 0.
    Any shape (N, ...); backward computes in dout's dtype, as the book's."""

    mask = _book_attr("mask", "x <= 0 (the units that are off) of the last forward.")

    def forward(self, x: Array, out: Array | None = None) -> Array:
        where = "Relu.forward"
        x = _values(where, x)
        st = self.state
        if out is None:
            out = take(st, "out", x.shape, x.dtype)
        else:
            out = _out(where, out, x.shape, x.dtype)
        mask = take(st, "mask", x.shape, np.bool_)
        K.relu_forward(_rows(x), _rows(out), _rows(mask))
        return out

    def backward(self, dout: Array) -> Array:
        where, st = "Relu.backward", self.state
        if st.mask is None:
            raise _not_called(where, "Relu.forward")
        dout = _dout_values(where, dout, st.mask.shape)
        dx = take(st, "dx", dout.shape, dout.dtype)
        K.relu_backward(_rows(dout), _rows(st.mask), _rows(dx))
        return dx


class _FromOutput(_Elementwise):
    """Sigmoid and Tanh: the derivative comes from ``out``, which the layer keeps."""

    out = _book_attr("out", "The output of the last forward.")
    _forward_kernel: Any = None  # (x, out) -> out
    _backward_kernel: Any = None  # (dout, out, dx) -> dx

    def forward(self, x: Array, out: Array | None = None) -> Array:
        where, st = f"{type(self).__name__}.forward", self.state
        x = _values(where, x)
        if out is None:
            out = take(st, "out", x.shape, x.dtype)
        else:
            st.out = out = _out(where, out, x.shape, x.dtype)
        self._forward_kernel(_rows(x), _rows(out))
        return out

    def backward(self, dout: Array) -> Array:
        name, st = type(self).__name__, self.state
        out = st.out
        if out is None:
            raise _not_called(f"{name}.backward", f"{name}.forward")
        dout = _dout(f"{name}.backward", dout, out.shape, out.dtype)
        dx = take(st, "dx", out.shape, out.dtype)
        self._backward_kernel(_rows(dout), _rows(out), _rows(dx))
        return dx


class Sigmoid(_FromOutput):
    """out = 1/(1 + exp(−x)); dx = dout·out·(1 − out).  Any shape (N, ...)."""

    _forward_kernel = staticmethod(K.sigmoid_forward)
    _backward_kernel = staticmethod(K.sigmoid_backward)


class Tanh(_FromOutput):
    """out = tanh(x); dx = dout·(1 − out²).  Any shape (N, ...)."""

    _forward_kernel = staticmethod(K.tanh_forward)
    _backward_kernel = staticmethod(K.tanh_backward)


class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy loss.

    forward(x, t): x (N, C) scores; t integer labels (N,) in [0, C) or one-hot (N, C)
    (soft labels whose rows sum to 1 also work).  y = softmax(x) (N, C);
    loss = (1/N) Σ_n (logsumexp(x_n) − x_n[t_n]), computed stably (no log(0)).
    backward(dout=1): dx = dout · (y − onehot(t)) / N.  Attributes ``y``, ``t``, ``loss``.

    ``eps``: 0 (default) gives that exact cross-entropy. The book's ``cross_entropy_error``
    computes loss = −(1/N) Σ_n log(y_n[t_n] + 1e-7) instead (one-hot labels taken as their
    argmax), which caps a sample's loss at −log 1e-7 ≈ 16.1 and differs from the exact value
    by about 1e-7 / y_n[t_n]: ``SoftmaxWithLoss(eps=1e-7)`` gives the book's number, to
    compare the losses a book script prints (``net.last_layer = SoftmaxWithLoss(eps=1e-7)``).
    The gradient is the same either way (the book's backward ignores the 1e-7 too).
    """

    loss = _book_attr("loss", "The loss of the last forward (a float).")
    y = _book_attr("y", "softmax(x) (N, C) of the last forward.")
    t = _book_attr("t", "The labels of the last forward, as given.")

    def __init__(self, eps: float = 0.0) -> None:
        self.eps = validate.number("eps", eps, 0.0, where="SoftmaxWithLoss")
        self.state = SoftmaxWithLossState()

    def forward(self, x: Array, t: Array) -> float:
        where = "SoftmaxWithLoss.forward"
        x = _values(where, x)
        if x.ndim != 2:
            raise ValueError(f"{where}: x must be 2-D scores (N, C), got shape {x.shape}")
        N, C = x.shape
        validate.labels(t, N, C, where)
        st = self.state
        y = take(st, "y", (N, C), x.dtype)
        if t.ndim == 1:
            labels = t.astype(np.intp, copy=False)
            st.loss = K.softmax_cross_entropy_forward(x, labels, y)
        else:
            labels = t.astype(x.dtype, copy=False)
            st.loss = K.softmax_cross_entropy_forward_onehot(x, labels, y)
        if self.eps:
            index = labels if t.ndim == 1 else np.argmax(t, axis=1)
            st.loss = -float(np.sum(np.log(y[np.arange(N), index] + self.eps))) / N
        st.t, st.labels = t, labels
        return st.loss

    def backward(self, dout: float = 1) -> Array:
        where = "SoftmaxWithLoss.backward"
        st = self.state
        y, labels = st.y, st.labels
        if y is None or labels is None:
            raise _not_called(where, "SoftmaxWithLoss.forward")
        validate.number("dout", dout, where=where)
        dx = take(st, "dx", y.shape, y.dtype)
        if labels.ndim == 1:
            K.softmax_cross_entropy_backward(y, labels, dx)
        else:
            K.softmax_cross_entropy_backward_onehot(y, labels, dx)
        if dout != 1:
            dx *= dout
        return dx


class Dropout:
    """Dropout as in the book (not inverted): training out = x·mask, mask = U(0,1) > ratio;
    inference out = x·(1 − dropout_ratio); backward dx = dout·mask.

    ``rng``: a numpy.random.Generator, an int seed, or None (fresh entropy).  The mask is
    drawn as ``rng.random(x.shape) > dropout_ratio`` (float64 uniforms whatever x's dtype),
    so the same seed gives the same mask as :class:`dlkit.reference.Dropout`.
    ``forward(x, train_flg=True, out=None)``: ``out`` as for the activations.
    """

    mask = _book_attr("mask", "The keep-mask (True = kept) of the last training forward.")

    def __init__(self, dropout_ratio: float = 0.5,
                 rng: int | np.random.Generator | None = None) -> None:
        self.dropout_ratio = validate.fraction("dropout_ratio", dropout_ratio, "Dropout")
        if isinstance(rng, bool) or not (rng is None or isinstance(rng, (int, np.integer,
                                                                      np.random.Generator))):
            raise TypeError(f"Dropout: rng must be None, an int seed or a "
                            f"numpy.random.Generator, got {type(rng).__name__}")
        self.rng = np.random.default_rng(rng)
        self.state = DropoutState()

    def forward(self, x: Array, train_flg: bool = True, out: Array | None = None) -> Array:
        where = "Dropout.forward"
        x = _values(where, x)
        st = self.state
        if out is None:
            out = take(st, "out", x.shape, x.dtype)
        else:
            out = _out(where, out, x.shape, x.dtype)
        if not train_flg:
            return np.multiply(x, 1.0 - self.dropout_ratio, out=out)
        u = take(st, "uniform", x.shape, np.float64)
        self.rng.random(out=u)
        mask = take(st, "mask", x.shape, np.bool_)
        np.greater(u, self.dropout_ratio, out=mask)
        return K.dropout_apply_mask(x, mask, out)

    def backward(self, dout: Array) -> Array:
        where = "Dropout.backward"
        st = self.state
        if st.mask is None:
            raise _not_called(where, "a training forward (train_flg=True)")
        dout = _dout_values(where, dout, st.mask.shape)
        dx = take(st, "dx", dout.shape, dout.dtype)
        return K.dropout_apply_mask(dout, st.mask, dx)
