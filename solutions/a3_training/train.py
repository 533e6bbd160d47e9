"""Task 3, model answer: train the lesson's network, with and without Batch Normalization.

    x ─ Affine ─ [BatchNorm] ─ ReLU ─ ... (5 hidden layers of 100) ... ─ Affine ─ Softmax ─ loss

Built from task 2's BatchNormalization and dlkit's Affine, Relu and SoftmaxWithLoss, trained
with plain SGD on mini-batches (Deep Learning from Scratch 6.3.2).
"""

import numbers

import numpy as np
from a2_batchnorm.batchnorm import BatchNormalization

from dlkit.layers import Affine, Relu, SoftmaxWithLoss

HIDDEN_SIZES = (100, 100, 100, 100, 100)
N_CLASSES = 10


class Network:
    """Affine → [BatchNorm] → ReLU, five times, then Affine → SoftmaxWithLoss.

    Weights W ~ weight_scale · N(0, 1) (drawn from ``rng``, layer by layer), biases b = 0;
    with Batch Normalization gamma = 1, beta = 0.
    """

    def __init__(self, input_size, weight_scale, use_batchnorm, rng):
        self.input_size = input_size
        self.layers = []
        sizes = [input_size, *HIDDEN_SIZES]
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):  # the hidden layers
            W = weight_scale * rng.standard_normal((n_in, n_out))
            self.layers.append(Affine(W, np.zeros(n_out)))
            if use_batchnorm:
                self.layers.append(BatchNormalization(np.ones(n_out), np.zeros(n_out)))
            self.layers.append(Relu())
        W = weight_scale * rng.standard_normal((sizes[-1], N_CLASSES))  # the output layer
        self.layers.append(Affine(W, np.zeros(N_CLASSES)))
        self.last_layer = SoftmaxWithLoss()

    def forward(self, x, train_flg):
        """Scores (N, 10).  BatchNorm uses batch statistics when train_flg, else running ones."""
        for layer in self.layers:
            if isinstance(layer, BatchNormalization):
                x = layer.forward(x, train_flg=train_flg)
            else:
                x = layer.forward(x)
        return x

    def predict(self, x):
        """Class scores (N, 10) for x (N, input_size), in inference mode.  A new array."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"x: expected an array of shape (N, {self.input_size}), got shape {x.shape}"
            )
        # dlkit's layers return arrays that are the caller's to keep, as the book's do
        return self.forward(x, train_flg=False)

    def sgd_step(self, x, t, lr):
        """One step of SGD on the mini-batch (x, t); returns the loss before the step."""
        loss = self.last_layer.forward(self.forward(x, train_flg=True), t)
        dout = self.last_layer.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        # param ← param − lr · gradient, in place (the layers keep references to the arrays).
        for layer in self.layers:
            if isinstance(layer, Affine):
                layer.W -= lr * layer.dW
                layer.b -= lr * layer.db
            elif isinstance(layer, BatchNormalization):
                layer.gamma -= lr * layer.dgamma
                layer.beta -= lr * layer.dbeta
        return loss


def _check_positive(name, value, kind, what):
    """ValueError unless value is a finite number of type ``kind`` (bool excluded) and > 0."""
    ok = isinstance(value, kind) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value <= 0:
        raise ValueError(f"{name}: expected {what}, got {value!r}")


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0):
    """Train the lesson's network with SGD; returns it (``model.predict(x)`` gives scores).

    x_train (N, D) inputs, t_train (N,) integer labels in 0..9.  Each epoch shuffles the
    samples (with a generator seeded by ``seed``) and makes one SGD step per full mini-batch
    of ``batch_size`` (the N mod batch_size samples left over are skipped in that epoch).
    ``model.loss_history`` holds the loss of every step.
    The grader passes every setting (the book's: epochs=20, batch_size=100, lr=0.01, seed=0);
    the defaults are for the student's own experiments.
    """
    x = np.asarray(x_train, dtype=np.float64)
    t = np.asarray(t_train)
    if x.ndim != 2:
        raise ValueError(f"x_train: expected a 2-D array (N, D), got shape {x.shape}")
    N = x.shape[0]
    if t.shape != (N,) or not np.issubdtype(t.dtype, np.integer):
        raise ValueError(
            f"t_train: expected integer labels of shape ({N},), got {t.dtype} of shape {t.shape}"
        )
    if N and (t.min() < 0 or t.max() >= N_CLASSES):
        raise ValueError(
            f"t_train: expected labels in 0..{N_CLASSES - 1}, got values in "
            f"{t.min()}..{t.max()}"
        )
    _check_positive("weight_scale", weight_scale, numbers.Real, "a positive number")
    _check_positive("lr", lr, numbers.Real, "a positive number")
    _check_positive("epochs", epochs, numbers.Integral, "a positive int")
    _check_positive("batch_size", batch_size, numbers.Integral, "a positive int")
    if use_batchnorm and batch_size < 2:
        raise ValueError(f"batch_size: expected >= 2 with Batch Normalization, got {batch_size}")
    if batch_size > N:
        raise ValueError(
            f"batch_size: expected at most the number of samples {N}, got {batch_size}"
        )

    rng = np.random.default_rng(seed)
    model = Network(x.shape[1], float(weight_scale), bool(use_batchnorm), rng)
    model.loss_history = []
    for _ in range(epochs):
        order = rng.permutation(N)
        for start in range(0, N - batch_size + 1, batch_size):
            batch = order[start:start + batch_size]
            model.loss_history.append(model.sgd_step(x[batch], t[batch], lr))
    return model
