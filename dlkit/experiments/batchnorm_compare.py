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

from functools import partial
from typing import Any

import numpy as np

from dlkit.experiments._checks import (
    check_data,
    check_seeds,
    one_of,
    positive_float,
    positive_int,
)
from dlkit.experiments.results import Result
from dlkit.experiments.runs import Plan, Run, run_plan
from dlkit.experiments.training import (
    ACTIVATIONS,
    BACKENDS,
    MiniBatches,
    batch_indices,
    net_settings,
    net_work,
    sgd_steps,
)
from dlkit.network import MultiLayerNet
from dlkit.optimizers import SGD

__all__ = ["DEFAULT_WEIGHT_SCALES", "batchnorm_compare", "effective_step", "plan",
           "train_epochs"]

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
    ``effective_step`` (S, K, L + 1) of each weight matrix at the first step (see
    :func:`effective_step`), and ``test_acc`` (S, K) when test data were given.
    """
    p = plan(x_train, t_train, x_test, t_test, weight_scales=weight_scales,
             train_size=train_size, hidden_size_list=hidden_size_list, activation=activation,
             lr=lr, batch_size=batch_size, epochs=epochs, seeds=seeds, backend=backend,
             dataset=dataset)
    return run_plan(p, (x_train, t_train, x_test, t_test))


def check_train_size(train_size, x_train) -> int:
    """``train_size`` as an int in [1, len(x_train)], else ValueError naming it."""
    train_size = positive_int("train_size", train_size)
    if train_size > len(x_train):
        raise ValueError(
            f"train_size must be at most the number of training samples {len(x_train)}, "
            f"got {train_size}"
        )
    return train_size


def plan(x_train, t_train, x_test=None, t_test=None, *, weight_scales=DEFAULT_WEIGHT_SCALES,
         train_size: int = 1000, hidden_size_list=(100, 100, 100, 100, 100),
         activation: str = "relu", lr: float = 0.01, batch_size: int = 100, epochs: int = 20,
         seeds=(0,), backend: str = "numba", dataset: str = "arrays") -> Plan:
    """:func:`batchnorm_compare` as independent runs, one per seed, scale and with/without BN."""
    x_train, t_train, x_test, t_test, n_classes = check_data(x_train, t_train, x_test, t_test)
    train_size = check_train_size(train_size, x_train)
    scales = np.asarray(weight_scales, dtype=np.float64)
    if scales.ndim != 1 or scales.size == 0 or not (np.isfinite(scales) & (scales > 0)).all():
        raise ValueError(f"weight_scales must be a non-empty list of positive floats, "
                         f"got {weight_scales!r}")
    activation = one_of("activation", activation, ACTIVATIONS)
    backend = one_of("backend", backend, BACKENDS)
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    epochs = positive_int("epochs", epochs)
    seeds = check_seeds(seeds)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]

    iter_per_epoch = -(-train_size // batch_size)
    test_size = 0 if x_test is None else len(x_test)
    common = {"train_size": train_size, "hidden_size_list": hidden_size_list,
              "n_classes": n_classes, "activation": activation, "lr": lr,
              "batch_size": batch_size, "epochs": epochs, "test_size": test_size,
              "backend": backend}
    runs = [train_epochs("batchnorm_compare", x_train.shape[1], seed=seed, weight_init=float(w),
                         use_batchnorm=use_bn, **common)
            for seed in seeds for w in scales for use_bn in (True, False)]
    settings = net_settings(dataset, x_train, n_classes, hidden_size_list, activation, lr,
                            batch_size, backend, train_size=train_size, test_size=test_size,
                            epochs=epochs, iter_per_epoch=iter_per_epoch,
                            weight_scales=scales.tolist())
    return Plan("batchnorm_compare", runs,
                partial(_assemble, settings, seeds, scales, test_size > 0))


def train_epochs(experiment: str, input_size: int, **kwargs) -> Run:
    """The run that trains one network on the first ``train_size`` samples for ``epochs``
    epochs, measuring the training accuracy before training and after every epoch (and the
    test accuracy at the end when ``test_size`` > 0); kwargs as :func:`_train_epochs` takes
    them. The same arguments make the same run, whichever experiment asks for it."""
    sizes = [input_size, *kwargs["hidden_size_list"], kwargs["n_classes"]]
    steps = kwargs["epochs"] * -(-kwargs["train_size"] // kwargs["batch_size"])
    evals = (kwargs["epochs"] + 1) * kwargs["train_size"] + kwargs["test_size"]
    return Run(experiment, _train_epochs, kwargs, net_work(sizes, kwargs["batch_size"], steps,
                                                           evals))


def _train_epochs(data, *, seed, weight_init, use_batchnorm, train_size, hidden_size_list,
                  n_classes, activation, lr, batch_size, epochs, test_size, backend) -> dict:
    """``train_acc`` (epochs + 1,), ``loss`` (epochs · iter_per_epoch,), ``effective_step``
    (L + 1,) at the first step and, when ``test_size`` > 0, ``test_acc`` on the first
    ``test_size`` test samples."""
    x, t = data[0][:train_size], data[1][:train_size].astype(np.intp, copy=False)
    iter_per_epoch = -(-train_size // batch_size)
    indices = batch_indices(np.random.default_rng(seed), train_size, batch_size,
                            epochs * iter_per_epoch)
    batches = MiniBatches(x, t, batch_size)
    net = MultiLayerNet(x.shape[1], hidden_size_list, n_classes, activation=activation,
                        weight_init_std=weight_init, use_batchnorm=use_batchnorm, seed=seed,
                        dtype=x.dtype, backend=backend)
    optimizer = SGD(lr)
    out: dict[str, Any] = {"train_acc": np.zeros(epochs + 1),
                           "loss": np.zeros(epochs * iter_per_epoch)}
    out["train_acc"][0] = net.accuracy(x, t)
    # the first step by hand, to measure its effective step before the update
    grads = net.gradient(*batches.fill(indices[0]))
    out["loss"][0] = net.last_layer.loss
    out["effective_step"] = effective_step(net.params, grads, lr, len(hidden_size_list) + 1)
    optimizer.update(net.params, grads)
    for epoch in range(epochs):
        steps = slice(max(1, epoch * iter_per_epoch), (epoch + 1) * iter_per_epoch)
        sgd_steps(net, optimizer, batches, indices[steps], out["loss"][steps])
        out["train_acc"][epoch + 1] = net.accuracy(x, t)
    if test_size:
        x_test, t_test = data[2][:test_size], data[3][:test_size].astype(np.intp, copy=False)
        out["test_acc"] = net.accuracy(x_test, t_test)
    return out


def effective_step(params: dict, grads: dict, lr: float, n_layers: int) -> np.ndarray:
    """(n_layers,) the relative size of one SGD step on each weight matrix::

        effective step of layer l = lr · ‖∂L/∂W_l‖ / ‖W_l‖      (Frobenius norms)

    the angle (in radians, for small steps) by which the step turns W_l. Behind BatchNorm the
    loss does not change when W_l is scaled, so ‖∂L/∂W_l‖ ∝ 1/‖W_l‖ and the effective step
    is ∝ lr/‖W_l‖²: large initial weights learn slowly at the same lr."""
    return np.array([lr * np.linalg.norm(grads[f"W{i}"]) / np.linalg.norm(params[f"W{i}"])
                     for i in range(1, n_layers + 1)])


def _assemble(settings, seeds, scales, with_test, outputs) -> Result:
    """Outputs in the runs' order (seed, scale, BN then plain) -> (S, K, ...) arrays."""
    S, K = len(seeds), len(scales)
    data = {"weight_scales": scales}
    for b, key in enumerate(("batchnorm", "plain")):
        runs = [[outputs[(s * K + k) * 2 + b] for k in range(K)] for s in range(S)]
        data[key] = {name: np.array([[r[name] for r in row] for row in runs])
                     for name in ("train_acc", "loss", "effective_step")
                     + (("test_acc",) if with_test else ())}
    return Result("batchnorm_compare", settings, seeds, data)
