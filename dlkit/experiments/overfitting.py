"""Overfitting: does Batch Normalization suppress it? Do small weights? Weight decay? (6.2,
6.3.1, 6.4.1)

The book's overfitting setting (``overfit_weight_decay.py``): only the first 300 training
samples, a network of 6 hidden layers of 100 ReLU units, SGD lr 0.01, batch 100, about 200
epochs. The network learns its 300 samples perfectly while the test accuracy stays far lower;
the distance between the two is the overfitting::

    gap = training accuracy − test accuracy

Three statements of the lesson are measured in this setting:

- 6.3.1: Batch Normalization suppresses overfitting (過学習を抑制する): with BN from He's
  initial weights and from σ = 0.01 (BN trains from both), against the network without BN;
- 6.2 opens with a question: "small weights make overfitting less likely (?)": without BN,
  from initial weights smaller than He's (σ = 0.1 and 0.01);
- 6.4.1 answers it with weight decay (``overfit_weight_decay.py``): the loss gets
  ½ λ Σ ‖W‖² (λ = 0.1), which keeps the weights small during training, not only at the start.

Every configuration of a seed starts from the same standard-normal draws (scaled) and sees
the same mini-batches.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from dlkit.experiments._checks import (
    check_data,
    check_schemes,
    check_seeds,
    one_of,
    positive_float,
    positive_int,
)
from dlkit.experiments.batchnorm_compare import check_train_size
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

__all__ = ["DEFAULT_CONFIGS", "overfitting", "plan"]

#: label -> (initial weights, with BatchNorm, weight decay λ): BN from He and from σ=0.01,
#: He without BN, with the book's weight decay, and smaller initial scales without BN
DEFAULT_CONFIGS = {
    "He, BatchNorm": ("he", True, 0.0),
    "σ=0.01, BatchNorm": (0.01, True, 0.0),
    "He": ("he", False, 0.0),
    "He, weight decay 0.1": ("he", False, 0.1),
    "σ=0.1": (0.1, False, 0.0),
    "σ=0.01": (0.01, False, 0.0),
}


def overfitting(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    *,
    configs: dict = DEFAULT_CONFIGS,
    train_size: int = 300,
    hidden_size_list=(100, 100, 100, 100, 100, 100),
    activation: str = "relu",
    lr: float = 0.01,
    batch_size: int = 100,
    epochs: int = 200,
    eval_every: int = 10,
    test_eval_size: int = 1000,
    seeds=(0,),
    backend: str = "numba",
    dataset: str = "arrays",
) -> Result:
    """Train on ``train_size`` samples for ``epochs`` epochs; training and test accuracy.

    Parameters
    ----------
    configs : label -> ``(weight_init, use_batchnorm, weight_decay_lambda)``.
    train_size, hidden_size_list, activation, lr, batch_size, epochs : the book's 6.4 values.
    eval_every : the accuracies are measured before training and after every
        ``eval_every``-th epoch (and after the last), the test accuracy on the first
        ``test_eval_size`` test samples; after the last epoch also on all of ``x_test``.

    Returns
    -------
    Result with ``data['epochs']`` (E,) the epochs measured and ``data['configs'][label]``:
    ``train_acc`` (S, E) on the training samples, ``test_acc`` (S, E) on the first
    ``test_eval_size`` test samples, ``final_test_acc`` (S,) on all of them, ``loss``
    (S, steps) the mini-batch cross-entropy (without weight decay's ½ λ Σ ‖W‖²), ``weight_init``,
    ``use_batchnorm`` and ``weight_decay_lambda``.
    """
    p = plan(x_train, t_train, x_test, t_test, configs=configs, train_size=train_size,
             hidden_size_list=hidden_size_list, activation=activation, lr=lr,
             batch_size=batch_size, epochs=epochs, eval_every=eval_every,
             test_eval_size=test_eval_size, seeds=seeds, backend=backend, dataset=dataset)
    return run_plan(p, (x_train, t_train, x_test, t_test))


def _check_configs(configs) -> dict:
    if not isinstance(configs, dict) or not configs:
        raise ValueError(f"configs must be a non-empty dict label -> (weight_init, "
                         f"use_batchnorm, weight_decay_lambda), got {configs!r}")
    for label, c in configs.items():
        if (not isinstance(c, (tuple, list)) or len(c) != 3 or not isinstance(c[1], bool)
                or isinstance(c[2], bool) or not isinstance(c[2], (int, float))
                or not 0 <= c[2] < float("inf")):
            raise ValueError(f"configs[{label!r}] must be (weight_init, use_batchnorm: bool, "
                             f"weight_decay_lambda >= 0), got {c!r}")
        check_schemes(f"configs[{label!r}]", {label: c[0]})
    return configs


def _eval_epochs(epochs: int, every: int) -> list[int]:
    return sorted(set(range(0, epochs + 1, every)) | {epochs})


def plan(x_train, t_train, x_test=None, t_test=None, *, configs: dict = DEFAULT_CONFIGS,
         train_size: int = 300, hidden_size_list=(100, 100, 100, 100, 100, 100),
         activation: str = "relu", lr: float = 0.01, batch_size: int = 100, epochs: int = 200,
         eval_every: int = 10, test_eval_size: int = 1000, seeds=(0,), backend: str = "numba",
         dataset: str = "arrays") -> Plan:
    """:func:`overfitting` as independent runs, one per seed and configuration."""
    x_train, t_train, x_test, t_test, n_classes = check_data(x_train, t_train, x_test, t_test)
    if x_test is None:
        raise ValueError("overfitting needs x_test and t_test: overfitting is measured on "
                         "held-out data")
    configs = _check_configs(configs)
    train_size = check_train_size(train_size, x_train)
    activation = one_of("activation", activation, ACTIVATIONS)
    backend = one_of("backend", backend, BACKENDS)
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    epochs = positive_int("epochs", epochs)
    eval_every = positive_int("eval_every", eval_every)
    test_eval_size = min(positive_int("test_eval_size", test_eval_size), len(x_test))
    seeds = check_seeds(seeds)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]

    iter_per_epoch = -(-train_size // batch_size)
    evals = _eval_epochs(epochs, eval_every)
    sizes = [x_train.shape[1], *hidden_size_list, n_classes]
    work = net_work(sizes, batch_size, epochs * iter_per_epoch,
                    len(evals) * (train_size + test_eval_size) + len(x_test))
    common = {"train_size": train_size, "hidden_size_list": hidden_size_list,
              "n_classes": n_classes, "activation": activation, "lr": lr,
              "batch_size": batch_size, "epochs": epochs, "eval_every": eval_every,
              "test_eval_size": test_eval_size, "backend": backend}
    runs = [Run("overfitting", _run, {"seed": seed, "weight_init": c[0],
                                      "use_batchnorm": c[1],
                                      "weight_decay_lambda": float(c[2]), **common}, work)
            for seed in seeds for c in configs.values()]
    settings = net_settings(dataset, x_train, n_classes, hidden_size_list, activation, lr,
                            batch_size, backend, train_size=train_size, test_size=len(x_test),
                            epochs=epochs, iter_per_epoch=iter_per_epoch,
                            eval_every=eval_every, test_eval_size=test_eval_size,
                            configs={label: list(c) for label, c in configs.items()})
    return Plan("overfitting", runs, partial(_assemble, settings, seeds, configs, evals))


def _run(data, *, seed, weight_init, use_batchnorm, weight_decay_lambda, train_size,
         hidden_size_list, n_classes, activation, lr, batch_size, epochs, eval_every,
         test_eval_size, backend) -> dict:
    """One seed, one configuration: accuracies during training, the final test accuracy."""
    x, t = data[0][:train_size], data[1][:train_size].astype(np.intp, copy=False)
    x_test, t_test = data[2], data[3].astype(np.intp, copy=False)
    iter_per_epoch = -(-train_size // batch_size)
    indices = batch_indices(np.random.default_rng(seed), train_size, batch_size,
                            epochs * iter_per_epoch)
    batches = MiniBatches(x, t, batch_size)
    net = MultiLayerNet(x.shape[1], hidden_size_list, n_classes, activation=activation,
                        weight_init_std=weight_init, use_batchnorm=use_batchnorm,
                        weight_decay_lambda=weight_decay_lambda, seed=seed, dtype=x.dtype,
                        backend=backend)
    optimizer = SGD(lr)
    evals = _eval_epochs(epochs, eval_every)
    out: dict[str, Any] = {"train_acc": np.zeros(len(evals)), "test_acc": np.zeros(len(evals)),
           "loss": np.zeros(epochs * iter_per_epoch)}
    done = 0  # epochs trained so far
    for i, epoch in enumerate(evals):
        steps = slice(done * iter_per_epoch, epoch * iter_per_epoch)
        sgd_steps(net, optimizer, batches, indices[steps], out["loss"][steps])
        done = epoch
        out["train_acc"][i] = net.accuracy(x, t)
        out["test_acc"][i] = net.accuracy(x_test[:test_eval_size], t_test[:test_eval_size])
    out["final_test_acc"] = net.accuracy(x_test, t_test)
    return out


def _assemble(settings, seeds, configs, evals, outputs) -> Result:
    n = len(configs)
    data = {}
    for i, (label, (weight_init, use_bn, decay)) in enumerate(configs.items()):
        runs = outputs[i::n]  # seed-major order: this configuration's run of every seed
        data[label] = {"weight_init": weight_init, "use_batchnorm": use_bn,
                       "weight_decay_lambda": float(decay),
                       **{key: np.array([r[key] for r in runs])
                          for key in ("train_acc", "test_acc", "final_test_acc", "loss")}}
    return Result("overfitting", settings, seeds, {"epochs": np.array(evals), "configs": data})
