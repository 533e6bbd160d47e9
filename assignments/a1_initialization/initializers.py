"""Task 1: initial weights, and what they do to the activations of a deep network.

"Deep Learning from Scratch" 6.2.  A layer maps n_in units to n_out units with a weight
matrix W of shape (n_in, n_out).  How W starts decides whether the activations of a deep
network stay spread out (good) or collapse:

    "zeros"     W = 0                     every hidden unit computes the same thing, forever
    std (float) W ~ N(0, std²)            std = 1: sigmoid saturates; std = 0.01: all ≈ 0.5
    "xavier"    W ~ N(0, σ²), σ = √(1/n_in)    keeps sigmoid/tanh activations spread
    "he"        W ~ N(0, σ²), σ = √(2/n_in)    keeps ReLU activations spread

Fill in the three functions marked TODO, with NumPy.  Run the public tests with

    pytest a1_initialization
"""

import numpy as np  # noqa: F401 (you will need it)


def init_weight(n_in, n_out, scheme, rng):
    """Initial weight matrix W of shape (n_in, n_out), dtype float64.

    scheme:
        "zeros"         all zeros
        a float std     std · N(0, 1)          (std >= 0; e.g. 1.0 or 0.01; an int like 1 is fine)
        "xavier"        σ · N(0, 1), σ = √(1 / n_in)
        "he"            σ · N(0, 1), σ = √(2 / n_in)
    rng: a numpy.random.Generator, the ONLY source of random numbers (never np.random.*).
        Draw exactly once, ``rng.standard_normal((n_in, n_out))``, and multiply by σ: then the
        same seed gives the same W as the reference, which the grader checks.

    Raise
        TypeError   when n_in or n_out is not an int, or rng is not a numpy.random.Generator;
        ValueError  when n_in or n_out is < 1, or scheme is none of the above (a negative or
                    non-finite std, an unknown name such as "Xavier" or "glorot").
    The message says what was expected and what was given.

    TODO: implement it.
    """
    raise NotImplementedError("TODO (task 1): init_weight")


def layer_activations(x, weights, activation):
    """Pass x through the layers and return every layer's activations.

    x: (N, D0), the input (N samples).  weights: a list of L matrices, weights[l] of shape
    (D_l, D_{l+1}), so that the widths chain.  For each layer, in order (no bias):

        a = z · W          (z is x for the first layer, then the previous layer's output)
        z = f(a)           f = sigmoid 1/(1 + e^(−a)), tanh, or relu max(0, a)

    Returns a list of L arrays, the z of every layer; z of layer l has shape (N, D_{l+1}).

    Raise ValueError when activation is not "sigmoid", "tanh" or "relu", when x or a weight is
    not 2-D, when the widths do not chain (weights[l].shape[0] must equal the width of the
    layer before), or when weights is empty.  Do not modify x or the weights.

    TODO: implement it.  (Hint: np.exp(-a) overflows for very negative a; the result 0 is
    still right, so you may silence the warning with np.errstate(over="ignore").)
    """
    raise NotImplementedError("TODO (task 1): layer_activations")


def spread_stats(z, activation):
    """Summary of one layer's activations z (any shape) as plain Python floats.

        "mean"       mean of z
        "std"        standard deviation of z (NumPy's default, divide by the count)
        "saturated"  fraction of z where the activation is flat, i.e. the gradient vanishes:
                     sigmoid: z < 0.1 or z > 0.9;  tanh: |z| > 0.9;
                     relu: 0.0 (ReLU's flat part is z = 0, which "zero" counts)
        "zero"       fraction of z exactly equal to 0

    Returns {"mean": ..., "std": ..., "saturated": ..., "zero": ...}.
    Raise ValueError for an unknown activation or an empty z.

    TODO: implement it.
    """
    raise NotImplementedError("TODO (task 1): spread_stats")
