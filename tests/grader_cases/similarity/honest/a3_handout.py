"""Task 3 -- written from the stub's docstrings, in their order."""

import numpy as np
from a2_batchnorm.batchnorm import BatchNormalization

from dlkit.layers import Affine, Relu, SoftmaxWithLoss

HIDDEN_SIZES = (100, 100, 100, 100, 100)
N_CLASSES = 10


class Network:
    def __init__(self, input_size, weight_scale, use_batchnorm, rng):
        self.input_size = input_size
        self.layers = []
        prev = input_size
        for size in HIDDEN_SIZES:
            W = weight_scale * rng.standard_normal((prev, size))
            self.layers.append(Affine(W, np.zeros(size)))
            if use_batchnorm:
                self.layers.append(BatchNormalization(np.ones(size), np.zeros(size)))
            self.layers.append(Relu())
            prev = size
        W = weight_scale * rng.standard_normal((prev, N_CLASSES))
        self.layers.append(Affine(W, np.zeros(N_CLASSES)))
        self.last_layer = SoftmaxWithLoss()

    def forward(self, x, train_flg):
        for layer in self.layers:
            if isinstance(layer, BatchNormalization):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def predict(self, x):
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"x: expected shape (N, {self.input_size}), got {x.shape}")
        return self.forward(x, train_flg=False)

    def sgd_step(self, x, t, lr):
        scores = self.forward(x, train_flg=True)
        loss = self.last_layer.forward(scores, t)
        dout = self.last_layer.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        for layer in self.layers:
            if isinstance(layer, Affine):
                layer.W -= lr * layer.dW
                layer.b -= lr * layer.db
            if isinstance(layer, BatchNormalization):
                layer.gamma -= lr * layer.dgamma
                layer.beta -= lr * layer.dbeta
        return loss


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0):
    if x_train.ndim != 2:
        raise ValueError(f"x_train: expected 2-D, got shape {x_train.shape}")
    N = x_train.shape[0]
    if t_train.shape != (N,):
        raise ValueError(f"t_train: expected shape ({N},), got {t_train.shape}")
    if not np.issubdtype(t_train.dtype, np.integer) or t_train.min() < 0 or t_train.max() > 9:
        raise ValueError(f"t_train: expected integer labels 0..9, got {t_train.dtype}")
    if not weight_scale > 0 or not lr > 0:
        raise ValueError(f"weight_scale, lr: expected > 0, got {weight_scale}, {lr}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs: expected a positive int, got {epochs}")
    if not isinstance(batch_size, int) or batch_size < 1 or batch_size > N:
        raise ValueError(f"batch_size: expected 1..{N}, got {batch_size}")
    if use_batchnorm and batch_size < 2:
        raise ValueError(f"batch_size: expected >= 2 with BatchNorm, got {batch_size}")
    rng = np.random.default_rng(seed)
    model = Network(x_train.shape[1], weight_scale, use_batchnorm, rng)
    model.loss_history = []
    for epoch in range(epochs):
        order = rng.permutation(N)
        for i in range(N // batch_size):
            idx = order[i * batch_size:(i + 1) * batch_size]
            model.loss_history.append(model.sgd_step(x_train[idx], t_train[idx], lr))
    return model
