"""a3 (grader test case): the lesson's network trained with SGD, with or without BatchNorm.

784 → 5 × (Affine → [BatchNorm] → ReLU, 100 units) → Affine → softmax; W ~ N(0, scale²).

THE MISTAKE: predict runs BatchNorm in training mode: each batch is normalized with its own statistics.
"""

import numpy as np
from a2_batchnorm.batchnorm import BatchNormalization

from dlkit.layers import Affine, Relu, SoftmaxWithLoss


class Net:
    def __init__(self, sizes, weight_scale, use_batchnorm, rng):
        self.layers = []
        self.params = []  # (array, layer, attribute of the gradient)
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            affine = Affine(weight_scale * rng.standard_normal((n_in, n_out)), np.zeros(n_out))
            self.layers.append(affine)
            self.params += [(affine.W, affine, "dW"), (affine.b, affine, "db")]
            if k < len(sizes) - 2:
                if use_batchnorm:
                    bn = BatchNormalization(np.ones(n_out), np.zeros(n_out))
                    self.layers.append(bn)
                    self.params += [(bn.gamma, bn, "dgamma"), (bn.beta, bn, "dbeta")]
                self.layers.append(Relu())
        self.last = SoftmaxWithLoss()

    def predict(self, x, train_flg=True):  # BUG: predict normalizes with batch statistics
        for layer in self.layers:
            if isinstance(layer, BatchNormalization):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x.copy()

    def step(self, x, t, lr):
        self.last.forward(self.predict(x, train_flg=True), t)
        dout = self.last.backward(1)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        for p, layer, name in self.params:
            p -= lr * getattr(layer, name)


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100, lr=0.01,
          seed=0):
    rng = np.random.default_rng(seed)
    net = Net([x_train.shape[1]] + [100] * 5 + [10], weight_scale, use_batchnorm, rng)
    n = x_train.shape[0]
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            net.step(x_train[idx], t_train[idx], lr)
    return net
