"""Kernels: pure functions on arrays, float32 and float64, contiguous or not; Numba loops,
except where NumPy's own ufuncs are faster (the sigmoid and tanh forwards).

Every kernel writes into the output buffers it is given and returns them; none allocates
an array the size of x.  Kernels assume valid input: ``dlkit.layers`` validates and
dispatches.  Compiled with ``cache=True`` (the first call compiles, later runs load the cache).
"""

from dlkit.kernels.activations import (
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from dlkit.kernels.affine import affine_backward, affine_backward_params, affine_forward
from dlkit.kernels.batchnorm import (
    batchnorm_backward,
    batchnorm_forward_infer,
    batchnorm_forward_train,
    batchnorm_running_update,
    bias_batchnorm_relu_forward_train,
    relu_batchnorm_bias_backward,
)
from dlkit.kernels.blocks import bias_relu_forward, relu_bias_backward
from dlkit.kernels.checks import all_finite, labels_in_range
from dlkit.kernels.dropout import dropout_apply_mask
from dlkit.kernels.sgd import sgd_update
from dlkit.kernels.softmax import (
    softmax_cross_entropy_backward,
    softmax_cross_entropy_backward_onehot,
    softmax_cross_entropy_forward,
    softmax_cross_entropy_forward_onehot,
)

__all__ = [
    "affine_backward",
    "affine_backward_params",
    "affine_forward",
    "all_finite",
    "batchnorm_backward",
    "batchnorm_forward_infer",
    "batchnorm_forward_train",
    "batchnorm_running_update",
    "bias_batchnorm_relu_forward_train",
    "bias_relu_forward",
    "dropout_apply_mask",
    "labels_in_range",
    "relu_backward",
    "relu_batchnorm_bias_backward",
    "relu_bias_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "sgd_update",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_backward_onehot",
    "softmax_cross_entropy_forward",
    "softmax_cross_entropy_forward_onehot",
    "tanh_backward",
    "tanh_forward",
]
