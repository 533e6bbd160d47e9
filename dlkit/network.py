"""A fully connected network with optional Batch Normalization and Dropout.

This is the book's ``MultiLayerNetExtend`` (Deep Learning from Scratch, 6.3–6.4), with
the same constructor, attribute names and methods, running on the Numba-backed layers of
:mod:`dlkit.layers` (``backend='numba'``) or on the plain-NumPy layers of
:mod:`dlkit.reference` (``backend='numpy'``, the readable baseline)::

    x ─ Affine1 ─ [BatchNorm1] ─ Activation_function1 ─ [Dropout1] ─ … ─ Affine<L> ─ SoftmaxWithLoss

Hidden layer l computes a_l = h_{l−1}·W_l + b_l, then (with BN) γ_l x̂_l + β_l, then the
activation. The loss is the mean softmax cross-entropy plus the weight decay
½ λ Σ_l ‖W_l‖² (Frobenius norm, every Affine layer), so ∂L/∂W_l gets + λ W_l.

With ``backend='numba'``, ReLU and no Dropout (the lesson's network), training runs each
hidden layer Affine → [BatchNorm] → ReLU as one block (:mod:`dlkit.blocks`): one fused
kernel per direction after the matrix product, with the layers' own numbers bit for bit and
the layers left in the state their own calls would leave. Inference and every other
configuration go through ``layers`` one by one, as the book's loop does.

Randomness (initial weights, dropout masks) comes only from one
``numpy.random.Generator`` built from ``seed``: the same seed gives bit-identical
parameters and losses. Inputs are validated at the entry points ``predict``, ``loss``,
``accuracy`` and ``gradient`` (shape, dtype, empty batch, NaN/inf), once per call; layers
only check what is cheap. Training that diverges on its own (e.g. weight scale 1.0
without BN) is not an error: the loss becomes inf/nan and accuracy is still computed.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict

import numpy as np

from dlkit import gradcheck
from dlkit.initializers import _check_size as _positive_int
from dlkit.initializers import init_weight
from dlkit.kernels.checks import all_finite, labels_in_range

__all__ = ["MultiLayerNet"]

ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
BACKENDS = ("numba", "numpy")

# Diverging training overflows on purpose (the lesson's weight scale 1.0): inf/nan are
# results there, not errors, so NumPy's floating-point warnings are silenced in the
# forward and backward passes (the Numba kernels never warn).
_QUIET = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}


def _layer_module(backend: str):
    if backend == "numba":
        from dlkit import layers
    else:
        from dlkit.reference import layers
    return layers


def _fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    if not (0.0 <= value < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


class MultiLayerNet:
    """Fully connected network: (Affine → [BatchNorm] → activation → [Dropout]) × L−1 → Affine.

    Parameters
    ----------
    input_size : int, e.g. 784 for MNIST.
    hidden_size_list : list of int, units per hidden layer, e.g. [100, 100, 100, 100].
    output_size : int, number of classes, e.g. 10.
    activation : 'relu' | 'sigmoid' | 'tanh'.
    weight_init_std : any scheme of :func:`dlkit.initializers.init_weight`: a float std,
        'relu'/'he' (σ = √(2/n)), 'sigmoid'/'xavier' (σ = √(1/n)), 'zeros', ... with n the
        number of units in the previous layer. Biases start at 0, γ at 1, β at 0.
    weight_decay_lambda : λ ≥ 0 of the L2 penalty ½ λ Σ ‖W‖².
    use_dropout, dropout_ratio : Dropout after every activation, dropping that fraction.
    use_batchnorm : BatchNorm (γ, β; momentum 0.9, eps 1e-5) between Affine and activation.
    seed : None, an int or a numpy.random.Generator; the one source of randomness.
    dtype : float64 (default) or float32, of the parameters and of the accepted x.
    backend : 'numba' (dlkit.layers) or 'numpy' (dlkit.reference layers).

    Attributes (as the book): ``params`` {'W1', 'b1', 'gamma1', 'beta1', ..., 'W<L>',
    'b<L>'}, ``layers`` (OrderedDict 'Affine1', 'BatchNorm1', 'Activation_function1',
    'Dropout1', ..., 'Affine<L>'), ``last_layer`` (SoftmaxWithLoss). The layers hold
    references to the ``params`` arrays, so update them in place (the optimizers do).

    Arrays returned by ``gradient`` belong to the network and its layers and are
    overwritten by the next call: copy them to keep them.
    """

    def __init__(
        self,
        input_size,
        hidden_size_list,
        output_size,
        activation="relu",
        weight_init_std="relu",
        weight_decay_lambda=0,
        use_dropout=False,
        dropout_ratio=0.5,
        use_batchnorm=False,
        seed=None,
        dtype=np.float64,
        backend="numba",
    ):
        self.input_size = _positive_int("input_size", input_size)
        self.output_size = _positive_int("output_size", output_size)
        if isinstance(hidden_size_list, (str, bytes)) or not hasattr(hidden_size_list, "__iter__"):
            raise TypeError(
                "hidden_size_list must be a list of positive ints, got "
                f"{type(hidden_size_list).__name__} {hidden_size_list!r}"
            )
        self.hidden_size_list = [
            _positive_int(f"hidden_size_list[{i}]", n) for i, n in enumerate(hidden_size_list)
        ]
        self.hidden_layer_num = len(self.hidden_size_list)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        if isinstance(weight_decay_lambda, bool) or not isinstance(
            weight_decay_lambda, numbers.Real
        ):
            raise TypeError(
                f"weight_decay_lambda must be a float >= 0, got "
                f"{type(weight_decay_lambda).__name__} {weight_decay_lambda!r}"
            )
        if not (0.0 <= float(weight_decay_lambda) < float("inf")):
            raise ValueError(f"weight_decay_lambda must be a float >= 0, got {weight_decay_lambda}")
        self.weight_decay_lambda = float(weight_decay_lambda)
        self.use_dropout = bool(use_dropout)
        self.dropout_ratio = _fraction("dropout_ratio", dropout_ratio)
        self.use_batchnorm = bool(use_batchnorm)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        self.backend = backend
        self.rng = np.random.default_rng(seed)
        L = _layer_module(backend)

        sizes = [self.input_size, *self.hidden_size_list, self.output_size]
        self.params = {}
        for idx in range(1, len(sizes)):
            self.params[f"W{idx}"] = init_weight(
                sizes[idx - 1], sizes[idx], weight_init_std, self.rng, dtype=self.dtype
            )
            self.params[f"b{idx}"] = np.zeros(sizes[idx], dtype=self.dtype)

        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{idx}"] = L.Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
            if self.use_batchnorm:
                D = self.hidden_size_list[idx - 1]
                self.params[f"gamma{idx}"] = np.ones(D, dtype=self.dtype)
                self.params[f"beta{idx}"] = np.zeros(D, dtype=self.dtype)
                self.layers[f"BatchNorm{idx}"] = L.BatchNormalization(
                    self.params[f"gamma{idx}"], self.params[f"beta{idx}"]
                )
            self.layers[f"Activation_function{idx}"] = getattr(L, ACTIVATIONS[activation])()
            if self.use_dropout:
                self.layers[f"Dropout{idx}"] = L.Dropout(self.dropout_ratio, rng=self.rng)
        idx = self.hidden_layer_num + 1
        self.layers[f"Affine{idx}"] = L.Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])
        self.last_layer = L.SoftmaxWithLoss()
        # params in the book's key order W1, b1, gamma1, beta1, W2, ...
        self.params = {k: self.params[k] for k in self._param_keys()}
        self._decay_grads = {}  # buffers for dW + λW, made on first use
        # Training through fused blocks (dlkit.blocks) where the lesson's network allows it:
        # the Numba layers with ReLU and without Dropout. Same numbers, fewer passes. They
        # run while net.layers holds the layers they were built on (a user may swap one).
        self._blocks = None
        self._fused = False  # whether the last forward went through the blocks
        if backend == "numba" and activation == "relu" and not self.use_dropout:
            from dlkit.blocks import ReluBlock

            self._blocks = [
                ReluBlock(self.layers[f"Affine{i}"], self.layers.get(f"BatchNorm{i}"),
                          self.layers[f"Activation_function{i}"])
                for i in range(1, self.hidden_layer_num + 1)
            ] or None
            self._block_layers = tuple(self.layers.values())

    def _param_keys(self):
        keys = []
        for idx in range(1, self.hidden_layer_num + 2):
            keys += [f"W{idx}", f"b{idx}"]
            if self.use_batchnorm and idx <= self.hidden_layer_num:
                keys += [f"gamma{idx}", f"beta{idx}"]
        return keys

    # ---------------------------------------------------------------- validation
    def _check_x(self, x) -> None:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy.ndarray of {self.dtype}, got {type(x).__name__}")
        if x.dtype.kind != "f":
            hint = " (pixels: x.astype(np.float64) / 255)" if x.dtype.kind in "ui" else ""
            raise TypeError(
                f"x must be a float array of dtype {self.dtype}, got dtype {x.dtype}{hint}"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"x must have the network's dtype {self.dtype}, got {x.dtype} "
                f"(build the network with dtype=np.{x.dtype} or convert x)"
            )
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"x must have shape (N, {self.input_size}), got {x.shape}"
                + (" (flatten images: load_mnist(flatten=True))" if x.ndim > 2 else "")
            )
        if x.shape[0] == 0:
            raise ValueError(f"x must hold at least one sample, got an empty batch {x.shape}")
        if not all_finite(x):  # one pass, no temporary
            bad = np.argwhere(~np.isfinite(x))
            raise ValueError(
                f"x must be finite, got {len(bad)} NaN/inf value(s), the first at index "
                f"{tuple(int(i) for i in bad[0])}"
            )

    def _check_t(self, t, n: int) -> None:
        C = self.output_size
        if not isinstance(t, np.ndarray):
            raise TypeError(f"t must be a numpy.ndarray of labels, got {type(t).__name__}")
        if t.ndim == 1:
            if t.dtype.kind not in "iu":
                raise TypeError(
                    f"t as class labels of shape (N,) must be integers, got dtype {t.dtype}"
                )
            if t.shape[0] != n:
                raise ValueError(f"t must have shape ({n},) to match x, got {t.shape}")
            if not labels_in_range(t, C):
                lo, hi = int(t.min()), int(t.max())
                raise ValueError(f"t labels must be in [0, {C - 1}], got values in [{lo}, {hi}]")
        elif t.ndim == 2:
            if t.shape != (n, C):
                raise ValueError(f"t as one-hot labels must have shape ({n}, {C}), got {t.shape}")
            if t.dtype.kind not in "biuf":
                raise TypeError(f"t as one-hot labels must be numeric, got dtype {t.dtype}")
            if t.dtype.kind == "f" and not np.isfinite(t).all():
                raise ValueError("t must be finite, got NaN/inf in the one-hot labels")
        else:
            raise ValueError(
                f"t must be labels of shape ({n},) or one-hot of shape ({n}, {C}), got {t.shape}"
            )

    def _check_batch_for_bn(self, x, train_flg: bool) -> None:
        if train_flg and self.use_batchnorm and x.shape[0] < 2:
            raise ValueError(
                "x must hold at least 2 samples when training with BatchNorm (the batch "
                f"variance of one sample is 0), got {x.shape}"
            )

    # ---------------------------------------------------------------- book API
    def _forward(self, x, train_flg):
        self._fused = bool(train_flg and self._blocks
                           and tuple(self.layers.values()) == self._block_layers)
        if self._fused:
            for block in self._blocks:
                x = block.forward_train(x)
            return self.layers[f"Affine{self.hidden_layer_num + 1}"].forward(x)
        for key, layer in self.layers.items():
            if key.startswith(("Dropout", "BatchNorm")):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def _loss(self, x, t, train_flg):
        y = self._forward(x, train_flg)
        loss = float(self.last_layer.forward(y, t))
        if self.weight_decay_lambda:
            for idx in range(1, self.hidden_layer_num + 2):
                W = self.params[f"W{idx}"]
                loss += 0.5 * self.weight_decay_lambda * float(np.vdot(W, W))
        return loss

    def predict(self, x, train_flg=False) -> np.ndarray:
        """Scores (N, output_size) before the softmax; a new array."""
        self._check_x(x)
        self._check_batch_for_bn(x, train_flg)
        with np.errstate(**_QUIET):
            return np.array(self._forward(x, train_flg))

    def loss(self, x, t, train_flg=False) -> float:
        """L = mean cross-entropy(softmax(predict(x)), t) + ½ λ Σ_l ‖W_l‖²  (a float)."""
        self._check_x(x)
        self._check_t(t, x.shape[0])
        self._check_batch_for_bn(x, train_flg)
        with np.errstate(**_QUIET):
            return self._loss(x, t, train_flg)

    def accuracy(self, x, t) -> float:
        """Fraction of samples whose largest score is the label (inference mode)."""
        self._check_x(x)
        self._check_t(t, x.shape[0])
        with np.errstate(**_QUIET):
            y = np.argmax(self._forward(x, False), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.count_nonzero(y == t)) / x.shape[0]

    def gradient(self, x, t) -> dict:
        """∂L/∂p for every p in ``params`` by backpropagation (training mode forward).

        The arrays belong to the layers / the network and are overwritten by the next call.
        """
        self._check_x(x)
        self._check_t(t, x.shape[0])
        self._check_batch_for_bn(x, True)
        lam = self.weight_decay_lambda
        with np.errstate(**_QUIET):
            self._loss(x, t, True)
            dout = self.last_layer.backward(1)
            if self._fused:
                self._backward_blocks(dout)
            else:
                self._backward_layers(dout)
            grads = {}
            for idx in range(1, self.hidden_layer_num + 2):
                affine = self.layers[f"Affine{idx}"]
                if lam:
                    W = self.params[f"W{idx}"]
                    g = self._decay_grads.get(idx)
                    if g is None or g.shape != W.shape:
                        g = self._decay_grads[idx] = np.empty_like(W)
                    np.multiply(W, lam, out=g)
                    g += affine.dW
                    grads[f"W{idx}"] = g
                else:
                    grads[f"W{idx}"] = affine.dW
                grads[f"b{idx}"] = affine.db
                if self.use_batchnorm and idx <= self.hidden_layer_num:
                    bn = self.layers[f"BatchNorm{idx}"]
                    grads[f"gamma{idx}"] = bn.dgamma
                    grads[f"beta{idx}"] = bn.dbeta
        return grads

    # Nothing uses ∂L/∂x, the gradient with respect to the data: dlkit.layers.Affine can
    # skip it (backward_params), a third of the first layer's matrix work. The book's
    # reference Affine (backend='numpy', unoptimised) computes it anyway.
    def _backward_layers(self, dout):
        """Backpropagate dout = ∂L/∂scores layer by layer (the book's loop)."""
        first, *rest = self.layers.values()
        for layer in reversed(rest):
            dout = layer.backward(dout)
        if hasattr(first, "backward_params"):
            first.backward_params(dout)
        else:
            first.backward(dout)

    def _backward_blocks(self, dout):
        """The same through the fused hidden blocks (after a training forward through them)."""
        dout = self.layers[f"Affine{self.hidden_layer_num + 1}"].backward(dout)
        for i in reversed(range(len(self._blocks))):
            dout = self._blocks[i].backward(dout, need_dx=i > 0)

    def numerical_gradient(self, x, t) -> dict:
        """∂L/∂p by central differences of ``loss(x, t, train_flg=True)`` (float64 only; slow).

        With Dropout the mask changes on every forward, so this only matches ``gradient``
        when the masks are held fixed.
        """
        self._check_x(x)
        self._check_t(t, x.shape[0])
        self._check_batch_for_bn(x, True)

        def loss(_):
            with np.errstate(**_QUIET):
                return self._loss(x, t, True)

        return {k: gradcheck.numerical_gradient(loss, p) for k, p in self.params.items()}
