"""Uses dlkit's own BatchNorm kernels in a4, where they are the task: blocked."""

from dlkit.kernels import batchnorm_backward, batchnorm_forward_train  # noqa: F401
