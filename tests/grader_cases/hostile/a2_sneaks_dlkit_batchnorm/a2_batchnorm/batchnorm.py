"""Reaches dlkit's BatchNormalization without an import statement the static check sees.

The runtime block still stops it: the forward and backward checks score 0, the static
check (which only reads import statements) passes.
"""

import importlib

_layers = importlib.import_module("dlkit." + "layers")


class BatchNormalization:
    def __init__(self, *args, **kwargs):
        self._impl = getattr(_layers, "Batch" + "Normalization")(*args, **kwargs)

    def forward(self, x, train_flg=True):
        return self._impl.forward(x, train_flg)

    def backward(self, dout):
        dx = self._impl.backward(dout)
        self.dgamma, self.dbeta = self._impl.dgamma, self._impl.dbeta
        return dx
