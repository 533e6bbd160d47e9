"""A hidden layer of the lesson's network, Affine → [BatchNorm] → ReLU, trained as one block.

``MultiLayerNet(backend='numba', activation='relu')`` without Dropout trains through these
blocks: per hidden layer, one matrix product and one fused kernel forward
(:mod:`dlkit.kernels.blocks`), two matrix products and one fused kernel backward, instead of
a kernel and a Python call per layer.  The numbers are the layers' own, bit for bit.

The layers in ``net.layers`` stay the source of truth: a block runs on their parameters and
their buffers and leaves each layer in the state its own ``forward``/``backward`` would
(``Affine.x``, ``BatchNormalization.xhat``, ``mean``, ``invstd``, running statistics,
``dgamma``, ``dbeta``, ``Affine.dW``, ``db``, ``Relu.out``), so everything a student inspects
is where the book puts it.  With BatchNorm, two intermediate arrays are not kept:
BatchNorm's output y = gamma·xhat + beta (ReLU takes it straight from registers) and ReLU's
dx (it passes through BatchNorm's dx buffer, which then receives BatchNorm's dx).

A block checks nothing: the network validates x and t at its entry points and every other
array here is a layer's own buffer.
"""

from __future__ import annotations

import numpy as np

from dlkit import kernels as K
from dlkit.layers import Affine, BatchNormalization, Relu, _empty_if_changed

__all__ = ["ReluBlock"]


class ReluBlock:
    """Affine → [BatchNormalization] → Relu (``batchnorm`` may be None), trained together."""

    def __init__(self, affine: Affine, batchnorm: BatchNormalization | None, relu: Relu):
        self.affine, self.batchnorm, self.relu = affine, batchnorm, relu

    def forward_train(self, x: np.ndarray) -> np.ndarray:
        """h = relu(bn(x·W + b)) in training mode, for x (N, D); returns h."""
        affine, bn, relu = self.affine, self.batchnorm, self.relu
        W, b = affine.W, affine.b
        shape = (x.shape[0], W.shape[1])
        affine.x, affine.original_x_shape = x, x.shape
        affine._out = z = _empty_if_changed(affine._out, shape, W.dtype)
        relu._out2 = relu.out = h = _empty_if_changed(relu._out2, shape, W.dtype)
        np.matmul(x, W, out=z)
        if bn is None:
            return K.bias_relu_forward(z, b, h)
        rm, rv = bn._running("BatchNormalization.forward")
        xhat, mean, invstd = bn._train_buffers(shape)
        K.bias_batchnorm_relu_forward_train(z, b, bn.gamma, bn.beta, bn.eps, xhat, mean, invstd,
                                            h)
        K.batchnorm_running_update(rm, rv, mean, invstd, bn.eps, bn.momentum)
        bn.input_shape, bn.batch_size = shape, shape[0]
        return h

    def backward(self, dh: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """From dh = ∂L/∂h: the parameters' gradients, and dx = ∂L/∂x when ``need_dx``."""
        affine, bn, relu = self.affine, self.batchnorm, self.relu
        affine._grad_buffers(dh)  # dz, whose place dh takes here, has dh's shape
        W, x, db = affine.W, affine.x, affine.db
        if bn is None:
            relu._dx = dz = _empty_if_changed(relu._dx, dh.shape, dh.dtype)
            K.relu_bias_backward(dh, relu.out, dz, db)
        else:
            dz, dgamma, dbeta = bn._grad_buffers()
            K.relu_batchnorm_bias_backward(dh, relu.out, bn.xhat, bn.gamma, bn.invstd, dz,
                                           dgamma, dbeta, db)
        np.matmul(x.T, dz, out=affine.dW)
        if not need_dx:
            return None
        affine._dx = dx = _empty_if_changed(affine._dx, x.shape, W.dtype)
        return np.matmul(dz, W.T, out=dx)
