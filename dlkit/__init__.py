"""dlkit: weight initialization and Batch Normalization, as in "Deep Learning from Scratch" 6.2-6.3.

Layers of the package (dependencies point one way only)::

    cli -> experiments -> network -> blocks -> layers -> kernels (Numba)   reference (NumPy)
                        \\-> optimizers, initializers, data, plots
    (shared by all: validate - argument checks; buffers - arrays handed out; gradcheck)

Import the parts you need, e.g. ``from dlkit.network import MultiLayerNet``.
"""

__version__ = "0.1.0"
