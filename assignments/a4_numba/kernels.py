"""Task 4 (advanced): Batch Normalization as Numba kernels.

The NumPy layer of task 2 makes a new array for every intermediate result (x − mu, its
square, xhat, ...).  A kernel compiled with Numba can instead loop over the N × D numbers a
few times and write straight into arrays it is given.  Target: forward + backward at least
3 × faster than the NumPy reference (``dlkit.reference.BatchNormalization``) for a batch of
shape (128, 100) in float64; the grader measures it.

Both functions must be compiled with ``numba.njit`` (``@njit(cache=True)`` keeps the compiled
code between runs), work for float64 and float32 arrays, write their results into the output
arrays passed in, and return the array named in the docstring.  Inside a kernel you may
allocate small (D,) arrays, but nothing of the size of x.

Run the public tests with

    pytest a4_numba
"""

from numba import njit


@njit(cache=True)
def batchnorm_forward_train(x, gamma, beta, eps, out, xhat, mean, invstd):
    """Training-mode forward.  Writes out, xhat, mean, invstd; returns out.

    x: (N, D); gamma, beta: (D,); eps: float; out, xhat: (N, D); mean, invstd: (D,).

        mean   = 1/N · Σ_n x_n                      (D,)
        var    = 1/N · Σ_n (x_n − mean)²            (D,)  biased: divide by N
        invstd = 1 / √(var + eps)                   (D,)
        xhat   = (x − mean) · invstd                (N, D)
        out    = gamma · xhat + beta                (N, D)

    Raise ValueError when N < 2 or when a shape does not match (gamma, beta, mean, invstd
    must be (D,); out and xhat must be (N, D)).  Numba can raise exceptions with a message
    built from strings, e.g. ``raise ValueError("x: expected N >= 2, got " + str(N))``.

    TODO: implement it with explicit loops.  Hint: x is stored row by row (C order), so the
    fastest loops run over n outside and d inside, accumulating per-feature sums in (D,)
    arrays.
    """
    raise NotImplementedError("TODO (task 4): batchnorm_forward_train")


@njit(cache=True)
def batchnorm_backward(dout, xhat, gamma, invstd, dx, dgamma, dbeta):
    """Backward of the training-mode forward.  Writes dx, dgamma, dbeta; returns dx.

    dout, xhat: (N, D); gamma, invstd: (D,) (invstd from the forward); dx: (N, D);
    dgamma, dbeta: (D,).

        dbeta  = Σ_n dout
        dgamma = Σ_n dout · xhat
        dx     = gamma · invstd / N · (N · dout − dbeta − xhat · dgamma)

    Raise ValueError when a shape does not match (xhat and dx must have dout's shape (N, D);
    gamma, invstd, dgamma, dbeta must be (D,)).

    TODO: implement it with explicit loops (two passes over the batch are enough).
    """
    raise NotImplementedError("TODO (task 4): batchnorm_backward")
