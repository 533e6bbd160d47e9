"""a2 (grader test case): a layer that does nothing but return arrays of the right shape.

THE MISTAKE: nothing is computed: forward and backward return zeros.
"""

import numpy as np


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        self.gamma, self.beta = gamma, beta
        self.running_mean, self.running_var = running_mean, running_var
        self.dgamma, self.dbeta = np.zeros_like(gamma), np.zeros_like(beta)

    def forward(self, x, train_flg=True):
        return np.zeros_like(x)

    def backward(self, dout):
        return np.zeros_like(dout)
