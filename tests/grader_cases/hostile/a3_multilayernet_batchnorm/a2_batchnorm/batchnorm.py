"""Task 2: the Batch Normalization layer, forward and backward, in NumPy.

Batch Normalization (Ioffe & Szegedy, 2015; "Deep Learning from Scratch" 6.3) normalizes
every feature over the mini-batch, then scales and shifts it with learned parameters:

    mu    = 1/N · Σ_n x_n                      mean of the batch, per feature       (D,)
    var   = 1/N · Σ_n (x_n − mu)²              biased variance, per feature          (D,)
    xhat  = (x − mu) / √(var + eps)            normalized input                      (N, D)
    out   = gamma · xhat + beta                scale and shift                       (N, D)

Fill in the three methods marked TODO.  Use NumPy only (no dlkit.layers, no dlkit.kernels):
the point of the task is to write it yourself.  Run the public tests with

    pytest a2_batchnorm
"""

import numpy as np  # noqa: F401 (you will need it)


class BatchNormalization:
    """Batch Normalization for inputs of shape (N, D): N samples, D features.

    Same interface as the book's ``common/layers.py``::

        bn = BatchNormalization(gamma=np.ones(D), beta=np.zeros(D))
        out = bn.forward(x, train_flg=True)     # training: batch statistics
        dx = bn.backward(dout)                  # sets bn.dgamma, bn.dbeta
        out = bn.forward(x, train_flg=False)    # inference: running statistics

    Parameters
    ----------
    gamma, beta : arrays of shape (D,)
        Scale and shift (learned parameters).  Keep references to them: an optimizer
        updates ``bn.gamma`` and ``bn.beta`` in place.
    momentum : float
        Weight of the old value in the running averages (see ``forward``).
    running_mean, running_var : arrays of shape (D,) or None
        Averages used at inference time.  ``None`` means ``np.zeros(D)``, created on the first
        call of ``forward`` (as in the book).
    eps : float
        Added to the variance so that we never divide by zero.

    Attributes set by the methods: ``running_mean``, ``running_var`` (forward in training
    mode), ``dgamma``, ``dbeta`` (backward), plus whatever your backward needs from the forward
    pass (e.g. ``xhat`` and ``invstd`` = 1/√(var + eps), or the book's ``xc``, ``std``, ``xn``).
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, eps=1e-5):
        """Store the parameters.

        TODO:
        - keep gamma, beta, momentum, running_mean, running_var, eps as attributes;
        - set ``self.dgamma = None`` and ``self.dbeta = None``;
        - raise ValueError (saying what was expected and what was given) when gamma or beta
          is not 1-D, or when their shapes differ.
        """
        raise NotImplementedError("TODO (task 2): BatchNormalization.__init__")

    def forward(self, x, train_flg=True):
        """Normalize x.

        x: (N, D).  Returns out: (N, D).

        train_flg=True (training), with the batch's own statistics:
            mu = mean over n of x,  var = mean over n of (x − mu)²   (divide by N)
            xhat = (x − mu) / √(var + eps),  out = gamma · xhat + beta
            update the running averages (create them as zeros(D) when they are None):
                running_mean = momentum · running_mean + (1 − momentum) · mu
                running_var  = momentum · running_var  + (1 − momentum) · var
            and remember what backward needs.
        train_flg=False (inference), with the running averages, which are NOT changed:
            out = gamma · (x − running_mean) / √(running_var + eps) + beta

        Raise ValueError (saying what was expected and what was given) when x is not 2-D,
        when x.shape[1] != D, or, in training mode, when N < 2 (the variance of a single
        sample is 0 and BatchNorm would turn every input into beta).
        Do not modify x in place.

        TODO: implement the two modes.
        """
        raise NotImplementedError("TODO (task 2): BatchNormalization.forward")

    def backward(self, dout):
        """Back-propagate through the last training-mode forward.

        dout: (N, D), the gradient of the loss with respect to out.  Returns dx: (N, D) and
        sets self.dgamma, self.dbeta: (D,).

            dbeta  = Σ_n dout
            dgamma = Σ_n dout · xhat
            dx     = gamma / (N · √(var + eps)) · (N · dout − dbeta − xhat · dgamma)

        (The last line is what you get by following the computational graph of the book,
        Figure 6-17, backwards through xhat, var and mu; deriving it yourself is a good
        exercise, and the book's step-by-step version is fine too.)

        Raise ValueError when dout's shape differs from the x of the last forward, and
        RuntimeError when there was no training-mode forward before.

        TODO: implement it.
        """
        raise NotImplementedError("TODO (task 2): BatchNormalization.backward")
