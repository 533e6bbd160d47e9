"""A fully connected network with optional Batch Normalization and Dropout.

This is the book's ``MultiLayerNetExtend`` (Deep Learning from Scratch, 6.3–6.4) - and its
``MultiLayerNet``, which is the same without the extras - with the same constructor (the
book's keyword ``dropout_ration`` included), attribute names, key orders and methods,
running on the Numba-backed layers of :mod:`dlkit.layers` (``backend='numba'``) or on the
plain-NumPy layers of :mod:`dlkit.reference` (``backend='numpy'``, the readable baseline)::

    x ─ Affine1 ─ [BatchNorm1] ─ Activation_function1 ─ [Dropout1] ─ … ─ Affine<L> ─ SoftmaxWithLoss

Hidden layer l computes a_l = h_{l−1}·W_l + b_l, then (with BN) γ_l x̂_l + β_l, then the
activation. The loss is the mean softmax cross-entropy plus the weight decay
½ λ Σ_l ‖W_l‖² (Frobenius norm, every Affine layer), so ∂L/∂W_l gets + λ W_l.

How the layers run is decided when ``layers`` changes (``Layers``), not on every call: when
they are exactly the lesson's, Affine → [BatchNorm] → ReLU repeated on dlkit's own layers,
training runs each hidden layer as one block (:mod:`dlkit.blocks`): one fused kernel per
direction after the matrix product, with the layers' own numbers bit for bit and the layers
left in the state their own calls would leave.  Inference and every other configuration go
through ``layers`` one by one, as the book's loop does.

Arrays are the caller's, as in the book: what ``predict`` and ``gradient`` return (and what
the layers show) is never changed by a later call while anyone holds it
(:mod:`dlkit.buffers`); a training loop that lets them go allocates nothing.

Randomness (initial weights, dropout masks) comes only from one
``numpy.random.Generator`` built from ``seed``: the same seed gives bit-identical
parameters and losses. Inputs are validated at the entry points ``predict``, ``loss``,
``accuracy`` and ``gradient`` (shape, dtype, empty batch, NaN/inf), once per call; layers
only check what is cheap. An input of a narrower dtype than the network's is promoted
(float32 or uint8 images into a float64 network, as NumPy would), never narrowed. Training that
diverges on its own (e.g. weight scale 1.0 without BN) is not an error: the loss becomes
inf/nan and accuracy is still computed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import numpy as np

from dlkit import gradcheck, validate
from dlkit import layers as numba_layers
from dlkit.blocks import ReluBlock
from dlkit.buffers import Owner, reuse, take
from dlkit.initializers import init_weight
from dlkit.kernels.checks import all_finite

__all__ = ["Layers", "MultiLayerNet"]

ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}
BACKENDS = ("numba", "numpy")

# Diverging training overflows on purpose (the lesson's weight scale 1.0): inf/nan are
# results there, not errors, so NumPy's floating-point warnings are silenced in the
# forward and backward passes (the Numba kernels never warn).
_QUIET: dict[str, Any] = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}

# dlkit's layers that can write their output into an array given as ``out=``.
_WRITES_INTO_OUT = (numba_layers.Relu, numba_layers.Sigmoid, numba_layers.Tanh,
                    numba_layers.Dropout)


def _layer_module(backend: str) -> Any:
    if backend == "numba":
        return numba_layers
    from dlkit.reference import layers

    return layers


class Layers(OrderedDict):
    """``net.layers``: the book's OrderedDict of layers, which works out how to run them
    whenever a layer is added, replaced, removed or moved.

    ``blocks``: (block, key of its Relu, the layer after it) for each hidden layer when the
    layers are the lesson's (see :meth:`dlkit.blocks.ReluBlock.chain`), else None.
    ``feeds``: key -> the next layer, for each layer that writes its output into an array the
    network gives it (the activation arrays between hidden layers, see ``MultiLayerNet``).
    """

    blocks: list[tuple[ReluBlock, str, Any]] | None
    feeds: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.blocks, self.feeds = None, {}
        super().__init__(*args, **kwargs)
        self._plan()

    def _plan(self) -> None:
        items = list(self.items())
        pairs = list(zip(items[:-1], items[1:], strict=True))  # (a layer, the next one)
        self.feeds = {key: nxt for (key, layer), (_, nxt) in pairs
                      if type(layer) in _WRITES_INTO_OUT}
        chain = ReluBlock.chain(layer for _, layer in items)
        if chain is None:
            self.blocks = None
            return
        key_of = {id(layer): key for key, layer in items}
        after = {id(layer): nxt for (_, layer), (_, nxt) in pairs}
        self.blocks = [(b, key_of[id(b.relu)], after[id(b.relu)]) for b in chain]

    # every way an OrderedDict can change
    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self._plan()

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self._plan()

    def pop(self, *args: Any) -> Any:
        value = super().pop(*args)
        self._plan()
        return value

    def popitem(self, last: bool = True) -> tuple[Any, Any]:
        item = super().popitem(last)
        self._plan()
        return item

    def clear(self) -> None:
        super().clear()
        self._plan()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        value = super().setdefault(key, default)
        self._plan()
        return value

    def move_to_end(self, key: Any, last: bool = True) -> None:
        super().move_to_end(key, last)
        self._plan()

    def update(self, *args: Any, **kwargs: Any) -> None:  # also what |= calls
        super().update(*args, **kwargs)
        self._plan()


class MultiLayerNet:
    """Fully connected network: (Affine → [BatchNorm] → activation → [Dropout]) × L−1 → Affine.

    Parameters
    ----------
    input_size : int, e.g. 784 for MNIST.
    hidden_size_list : list of int, units per hidden layer, e.g. [100, 100, 100, 100].
    output_size : int, number of classes, e.g. 10.
    activation : 'relu' | 'sigmoid' | 'tanh'.
    weight_init_std : any scheme of :func:`dlkit.initializers.init_weight`: a float std,
        'relu'/'he' (σ = √(2/n)), 'sigmoid'/'xavier' (σ = √(1/n)), 'zeros', ... (names in
        any case, as the book lowercases them) with n the number of units in the previous
        layer. Biases start at 0, γ at 1, β at 0.
    weight_decay_lambda : λ ≥ 0 of the L2 penalty ½ λ Σ ‖W‖².
    use_dropout, dropout_ratio : Dropout after every activation, dropping that fraction
        (default 0.5); ``dropout_ration`` is the book's spelling of ``dropout_ratio``.
    use_batchnorm : BatchNorm (γ, β; momentum 0.9, the book's eps 1e-6) between Affine and
        activation.
    seed : None, an int or a numpy.random.Generator; the one source of randomness.
    dtype : float64 (default) or float32, of the parameters and the computation.
    backend : 'numba' (dlkit.layers) or 'numpy' (dlkit.reference layers).

    Attributes
    ----------
    params : dict {'W1', 'b1', ..., 'W<L>', 'b<L>', 'gamma1', 'beta1', ...} in the book's
        order. The layers hold references to these arrays, so update them in place (the
        optimizers do).
    layers : ``Layers``, the book's OrderedDict: 'Affine1', 'BatchNorm1',
        'Activation_function1', 'Dropout1', ..., 'Affine<L>'.
    last_layer : SoftmaxWithLoss.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size_list: Iterable[int],
        output_size: int,
        activation: str = "relu",
        weight_init_std: Any = "relu",
        weight_decay_lambda: float = 0,
        use_dropout: bool = False,
        dropout_ratio: float | None = None,
        use_batchnorm: bool = False,
        seed: int | np.random.Generator | None = None,
        dtype: Any = np.float64,
        backend: str = "numba",
        *,
        dropout_ration: float | None = None,
    ) -> None:
        self.input_size = validate.positive_int("input_size", input_size)
        self.output_size = validate.positive_int("output_size", output_size)
        if isinstance(hidden_size_list, (str, bytes)) or not hasattr(hidden_size_list, "__iter__"):
            raise TypeError(
                "hidden_size_list must be a list of positive ints, got "
                f"{type(hidden_size_list).__name__} {hidden_size_list!r}"
            )
        self.hidden_size_list = [validate.positive_int(f"hidden_size_list[{i}]", n)
                                 for i, n in enumerate(hidden_size_list)]
        self.hidden_layer_num = len(self.hidden_size_list)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        self.weight_decay_lambda = validate.number("weight_decay_lambda", weight_decay_lambda,
                                                   0.0)
        self.use_dropout = bool(use_dropout)
        if dropout_ratio is not None and dropout_ration is not None:
            raise TypeError("give dropout_ratio or the book's spelling dropout_ration, not both")
        ratio = dropout_ration if dropout_ration is not None else dropout_ratio
        self.dropout_ratio = validate.fraction("dropout_ratio", 0.5 if ratio is None else ratio)
        self.use_batchnorm = bool(use_batchnorm)
        self.dtype = validate.float_dtype("dtype", dtype)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        self.backend = backend
        self.rng = np.random.default_rng(seed)
        L = _layer_module(backend)

        # The book's order: every W, b first (drawn layer by layer), then gamma, beta.
        sizes = [self.input_size, *self.hidden_size_list, self.output_size]
        self.params: dict[str, np.ndarray] = {}
        for idx in range(1, len(sizes)):
            self.params[f"W{idx}"] = init_weight(
                sizes[idx - 1], sizes[idx], weight_init_std, self.rng, dtype=self.dtype
            )
            self.params[f"b{idx}"] = np.zeros(sizes[idx], dtype=self.dtype)

        layers = []
        for idx in range(1, self.hidden_layer_num + 1):
            layers.append((f"Affine{idx}", L.Affine(self.params[f"W{idx}"],
                                                    self.params[f"b{idx}"])))
            if self.use_batchnorm:
                D = self.hidden_size_list[idx - 1]
                self.params[f"gamma{idx}"] = np.ones(D, dtype=self.dtype)
                self.params[f"beta{idx}"] = np.zeros(D, dtype=self.dtype)
                layers.append((f"BatchNorm{idx}", L.BatchNormalization(
                    self.params[f"gamma{idx}"], self.params[f"beta{idx}"])))
            layers.append((f"Activation_function{idx}", getattr(L, ACTIVATIONS[activation])()))
            if self.use_dropout:
                layers.append((f"Dropout{idx}", L.Dropout(self.dropout_ratio, rng=self.rng)))
        idx = self.hidden_layer_num + 1
        layers.append((f"Affine{idx}", L.Affine(self.params[f"W{idx}"], self.params[f"b{idx}"])))
        self.layers = Layers(layers)
        self.last_layer = L.SoftmaxWithLoss()
        # The arrays the network owns: the activations it passes from layer to layer (whose
        # next layer keeps them too) and the weight-decayed gradients.
        self._acts: dict[str, np.ndarray] = {}
        self._decayed = Owner()

    @property
    def layers(self) -> Layers:
        return self._layers

    @layers.setter
    def layers(self, value: Iterable[Any]) -> None:
        self._layers = value if isinstance(value, Layers) else Layers(value)

    def _grad_keys(self, idx: int) -> list[str]:
        """The parameter keys of layer idx in the book's gradient order: W, b, gamma, beta."""
        keys = [f"W{idx}", f"b{idx}"]
        if self.use_batchnorm and idx <= self.hidden_layer_num:
            keys += [f"gamma{idx}", f"beta{idx}"]
        return keys

    # ---------------------------------------------------------------- validation
    def _check_x(self, x: Any) -> np.ndarray:
        """x itself, or x promoted to the network's dtype, after checking it."""
        D = self.input_size
        if not (type(x) is np.ndarray and x.ndim == 2 and x.dtype == self.dtype
                and x.shape[1] == D and x.shape[0]):
            validate.input_array("x", x)
            if x.ndim != 2 or x.shape[1] != D:
                raise ValueError(
                    f"x must have shape (N, {D}), got {x.shape}"
                    + (" (flatten images: load_mnist(flatten=True))" if x.ndim > 2 else "")
                )
            if x.shape[0] == 0:
                raise ValueError(f"x must hold at least one sample, got an empty batch "
                                 f"{x.shape}")
            if x.dtype != self.dtype:
                x = x.astype(validate.compute_dtype("x", x.dtype, self.dtype))
        if not all_finite(x):  # one pass, no temporary
            bad = np.argwhere(~np.isfinite(x))
            raise ValueError(
                f"x must be finite, got {len(bad)} NaN/inf value(s), the first at index "
                f"{tuple(int(i) for i in bad[0])}"
            )
        return x

    def _check_t(self, t: Any, n: int) -> None:
        validate.labels(t, n, self.output_size)
        if t.ndim == 2 and t.dtype.kind == "f" and not np.isfinite(t).all():
            raise ValueError("t must be finite, got NaN/inf in the one-hot labels")

    # ---------------------------------------------------------------- book API
    def _activation(self, key: str, producer: Any, consumer: Any, shape: tuple[int, int],
                    dtype: np.dtype) -> np.ndarray:
        """The array the layer ``key`` writes its output into: the network's own, which the
        producing and the consuming layer may keep too (an Affine keeps its input, a Sigmoid
        its output), reused when nobody else holds it."""
        acts = self._acts
        holders = (1 + (getattr(producer.state, "out", None) is acts.get(key))
                   + (getattr(consumer, "x", None) is acts.get(key)))
        acts[key] = h = reuse(acts.get(key), shape, dtype, holders)
        return h

    def _forward(self, x: np.ndarray, train_flg: bool) -> np.ndarray:
        layers = self.layers
        if train_flg and layers.blocks is not None:
            for block, key, nxt in layers.blocks:
                h = self._activation(key, block.relu, nxt,
                                     (x.shape[0], block.affine.W.shape[1]), x.dtype)
                x = block.forward_train(x, h)
            return next(reversed(layers.values())).forward(x)
        for key, layer in layers.items():
            nxt = layers.feeds.get(key)
            kw = {} if nxt is None else {"out": self._activation(key, layer, nxt, x.shape,
                                                                 x.dtype)}
            if key.startswith(("Dropout", "BatchNorm")):
                x = layer.forward(x, train_flg, **kw)
            else:
                x = layer.forward(x, **kw)
        return x

    def _loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool) -> float:
        y = self._forward(x, train_flg)
        loss = float(self.last_layer.forward(y, t))
        if self.weight_decay_lambda:
            for idx in range(1, self.hidden_layer_num + 2):
                W = self.params[f"W{idx}"]
                loss += 0.5 * self.weight_decay_lambda * float(np.vdot(W, W))
        return loss

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        """Scores (N, output_size) before the softmax."""
        x = self._check_x(x)
        with np.errstate(**_QUIET):
            return self._forward(x, train_flg)

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        """L = mean cross-entropy(softmax(predict(x)), t) + ½ λ Σ_l ‖W_l‖²  (a float)."""
        x = self._check_x(x)
        self._check_t(t, x.shape[0])
        with np.errstate(**_QUIET):
            return self._loss(x, t, train_flg)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Fraction of samples whose largest score is the label (inference mode)."""
        x = self._check_x(x)
        self._check_t(t, x.shape[0])
        with np.errstate(**_QUIET):
            y = np.argmax(self._forward(x, False), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.count_nonzero(y == t)) / x.shape[0]

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """∂L/∂p for every p in ``params`` by backpropagation (training mode forward), keyed
        in the book's order (W1, b1, gamma1, beta1, W2, ...)."""
        x = self._check_x(x)
        self._check_t(t, x.shape[0])
        lam = self.weight_decay_lambda
        blocks = self.layers.blocks
        with np.errstate(**_QUIET):
            self._loss(x, t, True)
            dout = self.last_layer.backward(1)
            if blocks is not None:
                self._backward_blocks(dout, blocks)
            else:
                self._backward_layers(dout)
            grads = {}
            for idx in range(1, self.hidden_layer_num + 2):
                affine = self.layers[f"Affine{idx}"]
                if lam:
                    key, W = f"W{idx}", self.params[f"W{idx}"]
                    g = take(self._decayed, key, W.shape, W.dtype)
                    np.multiply(W, lam, out=g)
                    g += affine.dW
                    grads[key] = g
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
    def _backward_layers(self, dout: np.ndarray) -> None:
        """Backpropagate dout = ∂L/∂scores layer by layer (the book's loop)."""
        first, *rest = self.layers.values()
        for layer in reversed(rest):
            dout = layer.backward(dout)
        if hasattr(first, "backward_params"):
            first.backward_params(dout)
        else:
            first.backward(dout)

    def _backward_blocks(self, dout: np.ndarray, blocks: list) -> None:
        """The same through the fused hidden blocks (after a training forward through them)."""
        dout = next(reversed(self.layers.values())).backward(dout)
        for i in reversed(range(len(blocks))):
            dout = blocks[i][0].backward(dout, need_dx=i > 0)

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """∂L/∂p by central differences of ``loss(x, t, train_flg=True)`` (float64 only; slow),
        keyed as ``gradient``.

        With Dropout the mask changes on every forward, so this only matches ``gradient``
        when the masks are held fixed.
        """
        x = self._check_x(x)
        self._check_t(t, x.shape[0])

        def loss(_: Any) -> float:
            with np.errstate(**_QUIET):
                return self._loss(x, t, True)

        return {k: gradcheck.numerical_gradient(loss, self.params[k])
                for idx in range(1, self.hidden_layer_num + 2) for k in self._grad_keys(idx)}
