"""A hidden layer of the lesson's network, Affine → [BatchNorm] → ReLU, trained as one block.

``MultiLayerNet(backend='numba')`` trains through these blocks when its layers are exactly
the lesson's (``ReluBlock.chain``): per hidden layer, one matrix product and one fused kernel
forward (:mod:`dlkit.kernels.blocks`), two matrix products and one fused kernel backward,
instead of a kernel and a Python call per layer.  The numbers are the layers' own, bit for
bit.

The layers stay the source of truth: a block runs on their parameters and writes their state
objects (``layer.state``) as their own ``forward``/``backward`` would, so ``Affine.x``,
``dW``, ``db``, ``Relu.mask``, ``BatchNormalization.xn``, ``std``, ``dgamma``, ``dbeta`` and
the running statistics are where the book puts them.  Two intermediate arrays are not made:
BatchNorm's output y = gamma·xn + beta (ReLU takes it straight from registers) and ReLU's dx
(it passes through BatchNorm's dx, which then receives BatchNorm's dx).

A block checks nothing: the network validates x and t at its entry points, and every other
array is a layer's own or the network's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

# dlkit.layers as a module: BatchNormalization is looked up only for a layer that is not a
# Relu, so that a network without BatchNorm trains where that class is not available
from dlkit import kernels as K
from dlkit import layers as L
from dlkit.buffers import take

__all__ = ["ReluBlock"]


class ReluBlock:
    """Affine → [BatchNormalization] → Relu (``batchnorm`` may be None), trained together."""

    def __init__(self, affine: L.Affine, batchnorm: L.BatchNormalization | None,
                 relu: L.Relu):
        self.affine, self.batchnorm, self.relu = affine, batchnorm, relu

    @classmethod
    def chain(cls, layers: Iterable[Any]) -> list[ReluBlock] | None:
        """The blocks of a sequence of layers that is (Affine, [BatchNormalization], Relu)
        repeated, then one Affine (dlkit.layers' own classes, not subclasses: a subclass
        may compute something else); None for any other sequence."""
        layers = list(layers)
        blocks, i = [], 0
        while i < len(layers) - 1:
            affine, bn = layers[i], layers[i + 1]
            if type(affine) is not L.Affine:
                return None
            if type(bn) is L.Relu:
                bn = None
            elif type(bn) is L.BatchNormalization:
                i += 1
            else:
                return None
            relu = layers[i + 1] if i + 1 < len(layers) else None
            if type(relu) is not L.Relu:
                return None
            blocks.append(cls(affine, bn, relu))
            i += 2
        if not blocks or i != len(layers) - 1 or type(layers[i]) is not L.Affine:
            return None
        return blocks

    def forward_train(self, x: np.ndarray, h: np.ndarray) -> np.ndarray:
        """h = relu(bn(x·W + b)) in training mode, for x (N, D), written into ``h`` (N, M), an
        array of the network's (the next layer keeps it as its input); returns h."""
        affine, bn, relu = self.affine, self.batchnorm, self.relu
        W, b, a, r = affine.W, affine.b, affine.state, relu.state
        shape = (x.shape[0], W.shape[1])
        a.x, a.original_x_shape = x, x.shape
        z = take(a, "out", shape, W.dtype)
        mask = take(r, "mask", shape, np.bool_)
        np.matmul(x, W, out=z)
        if bn is None:
            return K.bias_relu_forward(z, b, h, mask)
        s = bn.state
        rm, rv = bn.running_stats()
        xhat, mean, invstd = s.train_buffers(shape, W.dtype)
        K.bias_batchnorm_relu_forward_train(z, b, bn.gamma, bn.beta, bn.eps, xhat, mean, invstd,
                                            h, mask)
        K.batchnorm_running_update(rm, rv, mean, invstd, bn.eps, bn.momentum)
        s.input_shape, s.batch_size = shape, shape[0]
        return h

    def backward(self, dh: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """From dh = ∂L/∂h: the parameters' gradients, and dx = ∂L/∂x when ``need_dx``."""
        affine, bn, relu = self.affine, self.batchnorm, self.relu
        W, a, r = affine.W, affine.state, relu.state
        x = a.x
        assert x is not None, "ReluBlock.backward before forward_train"
        dW = take(a, "dW", W.shape, W.dtype)
        db = take(a, "db", (W.shape[1],), W.dtype)
        if bn is None:
            dz = take(r, "dx", dh.shape, dh.dtype)
            K.relu_bias_backward(dh, r.mask, dz, db)
        else:
            s = bn.state
            dz, dgamma, dbeta = s.grad_buffers(dh.shape, dh.dtype)
            K.relu_batchnorm_bias_backward(dh, r.mask, s.xhat, bn.gamma, s.invstd, dz, dgamma,
                                           dbeta, db)
        np.matmul(x.T, dz, out=dW)
        if not need_dx:
            return None
        dx = take(a, "dx", x.shape, W.dtype)
        return np.matmul(dz, W.T, out=dx)
