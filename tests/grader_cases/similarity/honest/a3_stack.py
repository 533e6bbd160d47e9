"""Task 3 -- a stack of (layer, parameter names) pairs and a separate SGD function."""

import numpy as np
from a2_batchnorm.batchnorm import BatchNormalization

from dlkit.layers import Affine, Relu, SoftmaxWithLoss

HIDDEN_SIZES = (100, 100, 100, 100, 100)
N_CLASSES = 10

TRAINABLE = {Affine: (("W", "dW"), ("b", "db")),
             BatchNormalization: (("gamma", "dgamma"), ("beta", "dbeta"))}


def sgd(layers, lr):
    """p ← p − lr · dp for every parameter of every layer, in place."""
    for layer in layers:
        for param, grad in TRAINABLE.get(type(layer), ()):
            value = getattr(layer, param)
            value -= lr * getattr(layer, grad)


class Network:
    def __init__(self, input_size, weight_scale, use_batchnorm, rng):
        self.input_size = input_size
        self.stack = []
        fan_in = input_size
        for width in HIDDEN_SIZES:
            self.stack.append(Affine(rng.standard_normal((fan_in, width)) * weight_scale,
                                     np.zeros(width)))
            if use_batchnorm:
                self.stack.append(BatchNormalization(np.ones(width), np.zeros(width)))
            self.stack.append(Relu())
            fan_in = width
        self.stack.append(Affine(rng.standard_normal((fan_in, N_CLASSES)) * weight_scale,
                                 np.zeros(N_CLASSES)))
        self.last_layer = SoftmaxWithLoss()

    def forward(self, x, train_flg):
        h = x
        for layer in self.stack:
            h = (layer.forward(h, train_flg=train_flg) if type(layer) is BatchNormalization
                 else layer.forward(h))
        return h

    def predict(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[-1] != self.input_size:
            raise ValueError(f"predict expects (N, {self.input_size}) inputs, got {x.shape}")
        return self.forward(x, train_flg=False)

    def sgd_step(self, x, t, lr):
        loss = self.last_layer.forward(self.forward(x, train_flg=True), t)
        grad = self.last_layer.backward()
        for layer in self.stack[::-1]:
            grad = layer.backward(grad)
        sgd(self.stack, lr)
        return loss


def _require(ok, message):
    if not ok:
        raise ValueError(message)


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0):
    x = np.asarray(x_train, dtype=np.float64)
    labels = np.asarray(t_train)
    _require(x.ndim == 2, f"x_train: want (N, D), have {x.shape}")
    count = x.shape[0]
    _require(labels.shape == (count,), f"t_train: want ({count},), have {labels.shape}")
    _require(np.issubdtype(labels.dtype, np.integer), f"t_train: want ints, have {labels.dtype}")
    _require(count == 0 or (labels.min() >= 0 and labels.max() <= 9), "t_train: want 0..9")
    for label, value in (("weight_scale", weight_scale), ("lr", lr)):
        _require(not isinstance(value, bool) and isinstance(value, (int, float))
                 and 0 < value < float("inf"), f"{label}: want a number > 0, have {value!r}")
    for label, value in (("epochs", epochs), ("batch_size", batch_size)):
        _require(not isinstance(value, bool) and isinstance(value, int) and value > 0,
                 f"{label}: want an int > 0, have {value!r}")
    _require(batch_size <= count, f"batch_size: want <= {count}, have {batch_size}")
    _require(not use_batchnorm or batch_size >= 2, "batch_size: want >= 2 with BatchNorm")

    rng = np.random.default_rng(seed)
    model = Network(x.shape[1], weight_scale, use_batchnorm, rng)
    model.loss_history = []
    for _ in range(epochs):
        shuffled = rng.permutation(count)
        full = count - count % batch_size
        for batch in np.split(shuffled[:full], full // batch_size):
            model.loss_history.append(model.sgd_step(x[batch], labels[batch], lr))
    return model
