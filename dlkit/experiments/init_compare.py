"""Weight initialization compared by training (Deep Learning from Scratch, 6.2.4).

The book's ``weight_init_compare.py``: a 784-100-100-100-100-10 ReLU network trained on MNIST
by SGD (lr 0.01, batch 128, 2000 iterations) from three initial weight scales:

- std = 0.01: N(0, 0.01²) — the signal shrinks layer after layer, the loss stays at
  ln 10 ≈ 2.30 (chance for 10 classes): the network does not learn;
- Xavier: σ = √(1/n) — learns;
- He: σ = √(2/n) — learns fastest (the scale made for ReLU).

Every network of a seed sees the same mini-batches and starts from the same standard-normal
draws (scaled differently), so the comparison is fair.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from dlkit.experiments._checks import (
    check_data,
    check_schemes,
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

__all__ = ["DEFAULT_SCHEMES", "init_compare", "plan", "train_run"]

#: label -> weight_init_std, as the book's ``weight_init_types``.
DEFAULT_SCHEMES = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}


def init_compare(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    *,
    schemes: dict = DEFAULT_SCHEMES,
    hidden_size_list=(100, 100, 100, 100),
    activation: str = "relu",
    lr: float = 0.01,
    batch_size: int = 128,
    iterations: int = 2000,
    train_eval_size: int = 10_000,
    seeds=(0,),
    backend: str = "numba",
    dataset: str = "arrays",
) -> Result:
    """Train one network per weight initialization; record the loss of every step.

    Parameters
    ----------
    x_train, t_train : (N, D) float32/float64 inputs and (N,) integer labels.
    x_test, t_test : held-out data for the final test accuracy.
    schemes : label -> ``weight_init_std`` (any scheme of ``init_weight``).
    hidden_size_list, activation, lr, batch_size, iterations : the book's values by default.
    train_eval_size : the training accuracy is measured on the first ``train_eval_size``
        training samples (10,000 by default: all 60,000 of MNIST would take ~0.5 GB of
        activations and a second per network, for a number within ±0.5% of this one).
    seeds : one run per seed (seed → the network's initial weights and the batches).
    backend : 'numba' (dlkit.layers) or 'numpy' (the reference layers, for benchmarks).
    dataset : a name for the data, kept in the settings (figure titles, report).

    Returns
    -------
    Result with ``data['schemes'][label]``: ``loss`` (S, iterations) mini-batch loss of each
    step (before its update), ``train_acc`` (S,) and ``test_acc`` (S,) after the last step.
    Mini-batches are drawn from all of ``x_train``.
    """
    p = plan(x_train, t_train, x_test, t_test, schemes=schemes,
             hidden_size_list=hidden_size_list, activation=activation, lr=lr,
             batch_size=batch_size, iterations=iterations, train_eval_size=train_eval_size,
             seeds=seeds, backend=backend, dataset=dataset)
    return run_plan(p, (x_train, t_train, x_test, t_test))


def plan(x_train, t_train, x_test=None, t_test=None, *, schemes: dict = DEFAULT_SCHEMES,
         hidden_size_list=(100, 100, 100, 100), activation: str = "relu", lr: float = 0.01,
         batch_size: int = 128, iterations: int = 2000, train_eval_size: int = 10_000,
         seeds=(0,), backend: str = "numba", dataset: str = "arrays") -> Plan:
    """:func:`init_compare` as independent runs, one per seed and scheme."""
    x_train, t_train, x_test, t_test, n_classes = check_data(x_train, t_train, x_test, t_test)
    if x_test is None:
        raise ValueError("init_compare needs x_test and t_test for the final test accuracy")
    schemes = check_schemes("schemes", schemes)
    activation = one_of("activation", activation, ACTIVATIONS)
    backend = one_of("backend", backend, BACKENDS)
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    iterations = positive_int("iterations", iterations)
    n_eval = min(positive_int("train_eval_size", train_eval_size), len(x_train))
    seeds = check_seeds(seeds)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]

    runs = [train_run(seed, scheme, hidden_size_list=hidden_size_list, n_classes=n_classes,
                      activation=activation, lr=lr, batch_size=batch_size,
                      iterations=iterations, train_eval_size=n_eval, backend=backend,
                      input_size=x_train.shape[1], test_size=len(x_test))
            for seed in seeds for scheme in schemes.values()]
    settings = net_settings(dataset, x_train, n_classes, hidden_size_list, activation, lr,
                            batch_size, backend, test_size=len(x_test), iterations=iterations,
                            train_eval_size=n_eval, schemes=schemes)
    return Plan("init_compare", runs, partial(_assemble, settings, seeds, schemes))


def train_run(seed, scheme, *, input_size, test_size, experiment="init_compare",
              **settings) -> Run:
    """The run that trains one network of the comparison (seed, scheme and the network's
    ``settings``); the same arguments make the same run, whichever experiment asks for it."""
    sizes = [input_size, *settings["hidden_size_list"], settings["n_classes"]]
    work = net_work(sizes, settings["batch_size"], settings["iterations"],
                    settings["train_eval_size"] + test_size)
    return Run(experiment, _run, {"seed": seed, "weight_init": scheme, **settings}, work)


def _run(data, *, seed, weight_init, hidden_size_list, n_classes, activation, lr, batch_size,
         iterations, train_eval_size, backend) -> dict:
    """One seed, one scheme: the loss of every step, then training and test accuracy."""
    x_train, t_train, x_test, t_test = data
    t_train, t_test = t_train.astype(np.intp, copy=False), t_test.astype(np.intp, copy=False)
    indices = batch_indices(np.random.default_rng(seed), len(x_train), batch_size, iterations)
    net = MultiLayerNet(x_train.shape[1], hidden_size_list, n_classes, activation=activation,
                        weight_init_std=weight_init, seed=seed, dtype=x_train.dtype,
                        backend=backend)
    loss = np.zeros(iterations)
    sgd_steps(net, SGD(lr), MiniBatches(x_train, t_train, batch_size), indices, loss)
    return {"loss": loss,
            "train_acc": net.accuracy(x_train[:train_eval_size], t_train[:train_eval_size]),
            "test_acc": net.accuracy(x_test, t_test)}


def _assemble(settings, seeds, schemes, outputs) -> Result:
    n = len(schemes)
    data = {}
    for i, (label, scheme) in enumerate(schemes.items()):
        runs = outputs[i::n]  # seed-major order: this scheme's run of every seed
        data[label] = {"weight_init": scheme,
                       **{key: np.array([r[key] for r in runs])
                          for key in ("loss", "train_acc", "test_acc")}}
    return Result("init_compare", settings, seeds, {"schemes": data})
