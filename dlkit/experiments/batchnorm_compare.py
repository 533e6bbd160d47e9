"""Batch Normalization against the initial weight scale (Deep Learning from Scratch, 6.3.2).

The book's ``batch_norm_test.py``: 1000 training samples, a network of 5 hidden layers of 100
ReLU units (Affine → BatchNorm → ReLU with BN), SGD lr 0.01, batch 100, 20 epochs, trained from
16 initial weight scales ``np.logspace(0, -4, 16)`` (the std of every W), each with and without
Batch Normalization. Per mini-batch, BN computes, feature by feature::

    mu = mean(x),  var = mean((x − mu)²),  xhat = (x − mu) / √(var + eps),  y = gamma·xhat + beta

The book's result: with BN the network learns faster for most scales and depends much less on
the initial scale; without BN, too small a scale does not learn at all and too large a scale
diverges (weight scale 1.0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.experiments._checks import check_data, check_seeds, positive_float, positive_int
from dlkit.experiments.results import Result
from dlkit.experiments.training import (
    MiniBatches,
    batch_indices,
    net_settings,
    one_blas_thread,
    progress,
    sgd_steps,
)
from dlkit.network import MultiLayerNet
from dlkit.optimizers import SGD

__all__ = ["DEFAULT_WEIGHT_SCALES", "batchnorm_compare"]

#: The book's 16 initial weight scales, from 1 down to 1e-4.
DEFAULT_WEIGHT_SCALES = tuple(np.logspace(0, -4, num=16).tolist())


def batchnorm_compare(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray | None = None,
    t_test: np.ndarray | None = None,
    *,
    weight_scales=DEFAULT_WEIGHT_SCALES,
    train_size: int = 1000,
    hidden_size_list=(100, 100, 100, 100, 100),
    activation: str = "relu",
    lr: float = 0.01,
    batch_size: int = 100,
    epochs: int = 20,
    seeds=(0,),
    backend: str = "numba",
    dataset: str = "arrays",
) -> Result:
    """Train with and without BatchNorm from each weight scale; accuracy after every epoch.

    The first ``train_size`` samples of ``x_train`` are the training set (as the book). An
    epoch is ``ceil(train_size / batch_size)`` steps on mini-batches drawn with replacement.
    Accuracy on that training set is measured before training and after every epoch (the
    book's curves); test accuracy, when ``x_test`` is given, after the last epoch. With and
    without BN, a seed's networks start from the same standard-normal draws (times the scale)
    and see the same mini-batches.

    Returns
    -------
    Result with ``data['weight_scales']`` (K,) and, for ``'batchnorm'`` and ``'plain'`` (no
    BN): ``train_acc`` (S, K, epochs + 1), ``loss`` (S, K, steps) mini-batch loss of each step,
    and ``test_acc`` (S, K) when test data were given.
    """
    x_train, t_train, x_test, t_test, n_classes = check_data(x_train, t_train, x_test, t_test)
    train_size = positive_int("train_size", train_size)
    if train_size > len(x_train):
        raise ValueError(
            f"train_size must be at most the number of training samples {len(x_train)}, "
            f"got {train_size}"
        )
    scales = np.asarray(weight_scales, dtype=np.float64)
    if scales.ndim != 1 or scales.size == 0 or not (np.isfinite(scales) & (scales > 0)).all():
        raise ValueError(f"weight_scales must be a non-empty list of positive floats, "
                         f"got {weight_scales!r}")
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    epochs = positive_int("epochs", epochs)
    seeds = check_seeds(seeds)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]

    x, t = x_train[:train_size], t_train[:train_size]
    iter_per_epoch = -(-train_size // batch_size)
    S, K = len(seeds), len(scales)
    data: dict[str, Any] = {"weight_scales": scales}
    for key in ("batchnorm", "plain"):
        data[key] = {
            "train_acc": np.zeros((S, K, epochs + 1)),
            "loss": np.zeros((S, K, epochs * iter_per_epoch)),
        }
        if x_test is not None:
            data[key]["test_acc"] = np.zeros((S, K))

    batches = MiniBatches(x, t, batch_size)
    total = S * K * 2 * epochs * iter_per_epoch
    with one_blas_thread(), progress(total, "batchnorm_compare") as bar:
        for s, seed in enumerate(seeds):
            indices = batch_indices(np.random.default_rng(seed), train_size, batch_size,
                                    epochs * iter_per_epoch)
            for k, w in enumerate(scales):
                for key, use_bn in (("batchnorm", True), ("plain", False)):
                    net = MultiLayerNet(x.shape[1], hidden_size_list, n_classes,
                                        activation=activation, weight_init_std=float(w),
                                        use_batchnorm=use_bn, seed=seed, dtype=x.dtype,
                                        backend=backend)
                    optimizer = SGD(lr)
                    d = data[key]
                    d["train_acc"][s, k, 0] = net.accuracy(x, t)
                    for epoch in range(epochs):
                        steps = slice(epoch * iter_per_epoch, (epoch + 1) * iter_per_epoch)
                        sgd_steps(net, optimizer, batches, indices[steps], d["loss"][s, k, steps],
                                  bar)
                        d["train_acc"][s, k, epoch + 1] = net.accuracy(x, t)
                    if x_test is not None:
                        d["test_acc"][s, k] = net.accuracy(x_test, t_test)

    settings = net_settings(dataset, x, n_classes, hidden_size_list, activation, lr, batch_size,
                            backend, train_size=train_size,
                            test_size=0 if x_test is None else len(x_test), epochs=epochs,
                            iter_per_epoch=iter_per_epoch, weight_scales=scales.tolist())
    return Result("batchnorm_compare", settings, seeds, data)
