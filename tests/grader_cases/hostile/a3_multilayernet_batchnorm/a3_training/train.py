"""Trains dlkit's MultiLayerNet(use_batchnorm=True), which builds dlkit's own BatchNorm
layers, in a3 where the network must use the student's a2 BatchNormalization: blocked,
the check scores 0 and says why.
"""

import numpy as np

from dlkit.network import MultiLayerNet


class _Model:
    def __init__(self, net):
        self.net = net

    def predict(self, x):
        return self.net.predict(np.asarray(x, dtype=np.float64), train_flg=False).copy()


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0):
    net = MultiLayerNet(x_train.shape[1], [100] * 5, 10, weight_init_std=weight_scale,
                        use_batchnorm=use_batchnorm, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(epochs * max(1, len(x_train) // batch_size)):
        pick = rng.choice(len(x_train), batch_size)
        grads = net.gradient(x_train[pick], t_train[pick])
        for key, value in net.params.items():
            value -= lr * grads[key]
    return _Model(net)
