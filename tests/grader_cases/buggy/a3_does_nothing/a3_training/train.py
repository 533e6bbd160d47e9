"""a3 (grader test case): a train that trains nothing.

THE MISTAKE: nothing is learned: the model's predict returns zeros of the right shape.
"""

import numpy as np


class Model:
    def predict(self, x):
        return np.zeros((x.shape[0], 10))


def train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0):
    return Model()
