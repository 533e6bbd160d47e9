"""Plain-NumPy, book-style layers: the readable baseline for tests and benchmarks.

``from dlkit.reference import layers as ref`` or ``from dlkit.reference import BatchNormalization``.
Same class names and interface as :mod:`dlkit.layers`.
"""

from dlkit.reference import layers
from dlkit.reference.layers import (
    Affine,
    BatchNormalization,
    Dropout,
    Relu,
    Sigmoid,
    SoftmaxWithLoss,
    Tanh,
    cross_entropy_error,
    softmax,
)

__all__ = [
    "Affine",
    "BatchNormalization",
    "Dropout",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "Tanh",
    "cross_entropy_error",
    "layers",
    "softmax",
]
