"""Task 3 -- parameters in a dict keyed like the book's MultiLayerNetExtend (W1, b1, gamma1...)."""

from collections import OrderedDict

import numpy as np
from a2_batchnorm.batchnorm import BatchNormalization

from dlkit.layers import Affine, Relu, SoftmaxWithLoss

HIDDEN_SIZES = (100, 100, 100, 100, 100)
N_CLASSES = 10


class Network:
    def __init__(self, input_size, weight_scale, use_batchnorm, rng):
        self.input_size = input_size
        self.params = {}
        self.layers = OrderedDict()
        widths = (input_size,) + HIDDEN_SIZES + (N_CLASSES,)
        n_affine = len(widths) - 1
        for idx in range(1, n_affine + 1):
            fan_in, fan_out = widths[idx - 1], widths[idx]
            self.params["W%d" % idx] = weight_scale * rng.standard_normal((fan_in, fan_out))
            self.params["b%d" % idx] = np.zeros(fan_out)
            self.layers["Affine%d" % idx] = Affine(self.params["W%d" % idx],
                                                   self.params["b%d" % idx])
            if idx == n_affine:
                break
            if use_batchnorm:
                self.params["gamma%d" % idx] = np.ones(fan_out)
                self.params["beta%d" % idx] = np.zeros(fan_out)
                self.layers["BatchNorm%d" % idx] = BatchNormalization(
                    self.params["gamma%d" % idx], self.params["beta%d" % idx])
            self.layers["Relu%d" % idx] = Relu()
        self.last_layer = SoftmaxWithLoss()

    def forward(self, x, train_flg):
        for name, layer in self.layers.items():
            if name.startswith("BatchNorm"):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def predict(self, x):
        if np.ndim(x) != 2 or np.shape(x)[1] != self.input_size:
            raise ValueError("predict: x must be (N, %d), got %s" % (self.input_size,
                                                                       np.shape(x)))
        return self.forward(np.asarray(x, dtype=np.float64), False)

    def gradient(self):
        grads = {}
        for name, layer in self.layers.items():
            if name.startswith("Affine"):
                idx = name[len("Affine"):]
                grads["W" + idx], grads["b" + idx] = layer.dW, layer.db
            elif name.startswith("BatchNorm"):
                idx = name[len("BatchNorm"):]
                grads["gamma" + idx], grads["beta" + idx] = layer.dgamma, layer.dbeta
        return grads

    def sgd_step(self, x, t, lr):
        scores = self.forward(x, True)
        loss = self.last_layer.forward(scores, t)
        d = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            d = layer.backward(d)
        for key, grad in self.gradient().items():
            self.params[key] -= lr * grad
        return loss


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0):
    x_train = np.asarray(x_train, dtype=np.float64)
    t_train = np.asarray(t_train)
    if x_train.ndim != 2:
        raise ValueError("x_train must be 2-D, got shape %s" % (x_train.shape,))
    n = len(x_train)
    if t_train.shape != (n,) or t_train.dtype.kind not in "iu":
        raise ValueError("t_train must hold %d integer labels, got %s %s"
                         % (n, t_train.dtype, t_train.shape))
    if n and not (0 <= t_train.min() and t_train.max() < N_CLASSES):
        raise ValueError("labels must be in 0..9")
    for name, value in (("weight_scale", weight_scale), ("lr", lr)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError("%s must be a positive number, got %r" % (name, value))
        if value == float("inf"):
            raise ValueError("%s must be finite" % name)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("%s must be a positive int, got %r" % (name, value))
    if batch_size > n:
        raise ValueError("batch_size %d is larger than the %d samples" % (batch_size, n))
    if use_batchnorm and batch_size < 2:
        raise ValueError("BatchNorm needs batches of at least 2")

    rng = np.random.default_rng(seed)
    network = Network(x_train.shape[1], weight_scale, use_batchnorm, rng)
    network.loss_history = []
    steps = n // batch_size
    for _epoch in range(epochs):
        perm = rng.permutation(n)
        for step in range(steps):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            network.loss_history.append(network.sgd_step(x_train[idx], t_train[idx], lr))
    return network
