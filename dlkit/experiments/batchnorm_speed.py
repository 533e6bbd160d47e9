"""Does Batch Normalization learn faster, and with larger learning rates? (6.3.1)

The first advantage the lesson gives Batch Normalization: learning goes faster (学習を速く
進行させることができる), and the learning rate can be made larger. Here the network and data
of :mod:`dlkit.experiments.batchnorm_compare` (the first 1000 training samples, 5 hidden
layers of 100 ReLU units, batch 100, 20 epochs) start from He's initial weights, with and
without BatchNorm, and train at each learning rate of a small sweep. The measure of speed::

    steps to target = iter_per_epoch × (the first epoch after which the training accuracy
                      is at least target_acc)      (inf when no epoch reaches it)

With and without BN, a seed's networks start from the same standard-normal draws and see the
same mini-batches, at every learning rate.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from dlkit.experiments._checks import (
    check_data,
    check_schemes,
    check_seeds,
    fraction,
    one_of,
    positive_floats,
    positive_int,
)
from dlkit.experiments.batchnorm_compare import check_train_size, train_epochs
from dlkit.experiments.results import Result
from dlkit.experiments.runs import Plan, run_plan
from dlkit.experiments.training import ACTIVATIONS, BACKENDS, net_settings

__all__ = ["DEFAULT_LRS", "batchnorm_speed", "plan", "steps_to_reach"]

#: the learning rates of the sweep: the book's 0.01 up to 100 times as large, a factor of
#: about 3 apart
DEFAULT_LRS = (0.01, 0.03, 0.1, 0.3, 1.0)


def steps_to_reach(train_acc: np.ndarray, target: float, iter_per_epoch: int) -> np.ndarray:
    """Training steps until the accuracy first reaches ``target``: ``train_acc`` (..., E + 1)
    holds the accuracy before training and after each epoch; the result (...) is
    ``iter_per_epoch × epoch`` of the first epoch at or above ``target``, inf if none."""
    train_acc = np.asarray(train_acc)
    reached = train_acc >= target
    first = np.argmax(reached, axis=-1).astype(np.float64)
    first[~reached.any(axis=-1)] = np.inf
    return first * iter_per_epoch


def batchnorm_speed(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray | None = None,
    t_test: np.ndarray | None = None,
    *,
    lrs=DEFAULT_LRS,
    weight_init="he",
    target_acc: float = 0.8,
    train_size: int = 1000,
    hidden_size_list=(100, 100, 100, 100, 100),
    activation: str = "relu",
    batch_size: int = 100,
    epochs: int = 20,
    seeds=(0,),
    backend: str = "numba",
    dataset: str = "arrays",
) -> Result:
    """Train with and without BatchNorm at each learning rate; steps to reach ``target_acc``.

    Parameters
    ----------
    x_train, t_train : training data; the first ``train_size`` samples are trained on and
        their accuracy measured after every epoch (the test data are unused).
    lrs : learning rates of SGD (a non-empty list of positive numbers).
    weight_init : the initial weights (any scheme of ``init_weight``; He by default).
    target_acc : the training accuracy to reach, in (0, 1].
    train_size, hidden_size_list, activation, batch_size, epochs : as ``batchnorm_compare``.

    Returns
    -------
    Result with ``data['lrs']`` (R,) and, for ``'batchnorm'`` and ``'plain'``:
    ``train_acc`` (S, R, epochs + 1), ``loss`` (S, R, steps), ``effective_step`` (S, R, L + 1)
    at the first step (see :func:`~dlkit.experiments.batchnorm_compare.effective_step`) and
    ``steps_to_target`` (S, R) (inf where the target was not reached).
    """
    p = plan(x_train, t_train, lrs=lrs, weight_init=weight_init, target_acc=target_acc,
             train_size=train_size, hidden_size_list=hidden_size_list, activation=activation,
             batch_size=batch_size, epochs=epochs, seeds=seeds, backend=backend,
             dataset=dataset)
    return run_plan(p, (x_train, t_train, x_test, t_test))


def plan(x_train, t_train, x_test=None, t_test=None, *, lrs=DEFAULT_LRS, weight_init="he",
         target_acc: float = 0.8, train_size: int = 1000,
         hidden_size_list=(100, 100, 100, 100, 100), activation: str = "relu",
         batch_size: int = 100, epochs: int = 20, seeds=(0,), backend: str = "numba",
         dataset: str = "arrays") -> Plan:
    """:func:`batchnorm_speed` as independent runs, one per seed, learning rate and with or
    without BN."""
    x_train, t_train, _, _, n_classes = check_data(x_train, t_train)
    lrs = positive_floats("lrs", lrs)
    check_schemes("weight_init", {"weight_init": weight_init})
    target_acc = fraction("target_acc", target_acc)
    train_size = check_train_size(train_size, x_train)
    activation = one_of("activation", activation, ACTIVATIONS)
    backend = one_of("backend", backend, BACKENDS)
    batch_size = positive_int("batch_size", batch_size)
    epochs = positive_int("epochs", epochs)
    seeds = check_seeds(seeds)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]

    common = {"weight_init": weight_init, "train_size": train_size,
              "hidden_size_list": hidden_size_list, "n_classes": n_classes,
              "activation": activation, "batch_size": batch_size, "epochs": epochs,
              "test_size": 0, "backend": backend}
    runs = [train_epochs("batchnorm_speed", x_train.shape[1], seed=seed, lr=lr,
                         use_batchnorm=use_bn, **common)
            for seed in seeds for lr in lrs for use_bn in (True, False)]
    iter_per_epoch = -(-train_size // batch_size)
    settings = net_settings(dataset, x_train, n_classes, hidden_size_list, activation,
                            lrs, batch_size, backend, train_size=train_size,
                            weight_init=weight_init, target_acc=target_acc, epochs=epochs,
                            iter_per_epoch=iter_per_epoch)
    return Plan("batchnorm_speed", runs, partial(_assemble, settings, seeds, lrs))


def _assemble(settings, seeds, lrs, outputs) -> Result:
    """Outputs in the runs' order (seed, lr, BN then plain) -> (S, R, ...) arrays."""
    S, R = len(seeds), len(lrs)
    data: dict[str, Any] = {"lrs": np.array(lrs)}
    for b, key in enumerate(("batchnorm", "plain")):
        runs = [[outputs[(s * R + r) * 2 + b] for r in range(R)] for s in range(S)]
        d = {name: np.array([[run[name] for run in row] for row in runs])
             for name in ("train_acc", "loss", "effective_step")}
        d["steps_to_target"] = steps_to_reach(d["train_acc"], settings["target_acc"],
                                              settings["iter_per_epoch"])
        data[key] = d
    return Result("batchnorm_speed", settings, seeds, data)
