"""Task 3: train the lesson's network, with and without Batch Normalization.

    x ─ Affine ─ [BatchNorm] ─ ReLU ─ ... (5 hidden layers of 100) ... ─ Affine ─ Softmax ─ loss

"Deep Learning from Scratch" 6.3.2: with Batch Normalization the network learns faster and
depends much less on the scale of the initial weights.  Build the network from YOUR
BatchNormalization of task 2 (imported below) and dlkit's Affine, Relu and SoftmaxWithLoss,
and train it with plain SGD.

The grader calls only ``train(...)`` and ``model.predict(x)``; the ``Network`` skeleton below
is a suggested structure, which you may change.  Run the public tests with

    pytest a3_training
"""

import numpy as np  # noqa: F401 (you will need it)
from a2_batchnorm.batchnorm import BatchNormalization  # noqa: F401 (your layer from task 2)

from dlkit.layers import Affine, Relu, SoftmaxWithLoss  # noqa: F401

HIDDEN_SIZES = (100, 100, 100, 100, 100)
N_CLASSES = 10


class Network:
    """Affine → [BatchNorm] → ReLU, five times, then Affine → SoftmaxWithLoss.

    Initial values: every W ~ weight_scale · N(0, 1), drawn with ``rng.standard_normal`` layer
    by layer; every b = 0; with Batch Normalization gamma = 1 and beta = 0 for each hidden
    layer (np.ones(100), np.zeros(100)).
    """

    def __init__(self, input_size, weight_scale, use_batchnorm, rng):
        """Build the layers (e.g. a list ``self.layers``) and ``self.last_layer``.

        TODO: implement it.
        """
        raise NotImplementedError("TODO (task 3): Network.__init__")

    def forward(self, x, train_flg):
        """Scores (N, 10) for x (N, input_size).

        Pass ``train_flg`` to the BatchNormalization layers (batch statistics when True,
        running averages when False); Affine and Relu take only x.

        TODO: implement it.
        """
        raise NotImplementedError("TODO (task 3): Network.forward")

    def predict(self, x):
        """Class scores (N, 10) for x (N, input_size), in inference mode (train_flg=False).

        Return an array the caller may keep (dlkit's layers return such arrays, as the book's
        do; so does a2's layer if it makes new ones).  Raise ValueError when x is not
        (N, input_size).

        TODO: implement it.
        """
        raise NotImplementedError("TODO (task 3): Network.predict")

    def sgd_step(self, x, t, lr):
        """One step of SGD on the mini-batch (x, t); return the loss before the step.

        forward (training mode) → last_layer.forward(scores, t) → last_layer.backward() →
        every layer's backward in reverse order → for every parameter, in place:
            W -= lr · dW,  b -= lr · db          (Affine: layer.W, layer.dW, layer.b, layer.db)
            gamma -= lr · dgamma,  beta -= lr · dbeta              (your BatchNormalization)

        TODO: implement it.
        """
        raise NotImplementedError("TODO (task 3): Network.sgd_step")


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0):
    """Train the lesson's network with SGD and return it.

    x_train: (N, D) inputs (e.g. D = 784 pixels in [0, 1]); t_train: (N,) integer labels 0..9.
    weight_scale: the std of the initial weights; use_batchnorm: insert BatchNormalization
    after every hidden Affine.
    epochs, batch_size, lr, seed: use the values given.  The grader passes every one of them
    (the book's settings: epochs=20, batch_size=100, lr=0.01, seed=0), so the defaults in
    the signature are only for your own experiments: changing them changes no grade.

    1. ``rng = np.random.default_rng(seed)``: the only source of randomness (same seed, same
       model).
    2. Build the network with ``rng``.
    3. For each of the ``epochs`` epochs: shuffle with ``order = rng.permutation(N)`` and make
       one SGD step per full mini-batch of ``batch_size`` samples (skip the N mod batch_size
       samples left over).
    4. Return the model: ``model.predict(x)`` gives scores (N, 10).  Keeping the loss of every
       step in ``model.loss_history`` is handy for drawing the lesson's figure.

    Raise ValueError (saying what was expected and what was given) for x_train that is not
    2-D, labels of the wrong shape or outside 0..9, weight_scale/lr/epochs/batch_size that
    are not positive, batch_size > N, or batch_size < 2 with Batch Normalization.

    TODO: implement it.
    """
    raise NotImplementedError("TODO (task 3): train")
