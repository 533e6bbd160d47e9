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

import numpy as np

from dlkit.experiments._checks import (
    check_data,
    check_schemes,
    check_seeds,
    positive_float,
    positive_int,
)
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

__all__ = ["DEFAULT_SCHEMES", "init_compare"]

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
    x_train, t_train, x_test, t_test, n_classes = check_data(x_train, t_train, x_test, t_test)
    if x_test is None:
        raise ValueError("init_compare needs x_test and t_test for the final test accuracy")
    schemes = check_schemes("schemes", schemes)
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    iterations = positive_int("iterations", iterations)
    n_eval = min(positive_int("train_eval_size", train_eval_size), len(x_train))
    seeds = check_seeds(seeds)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]

    S = len(seeds)
    data = {
        label: {
            "weight_init": scheme,
            "loss": np.zeros((S, iterations)),
            "train_acc": np.zeros(S),
            "test_acc": np.zeros(S),
        }
        for label, scheme in schemes.items()
    }
    batches = MiniBatches(x_train, t_train, batch_size)
    with one_blas_thread(), progress(S * len(schemes) * iterations, "init_compare") as bar:
        for s, seed in enumerate(seeds):
            indices = batch_indices(np.random.default_rng(seed), len(x_train), batch_size,
                                    iterations)
            for label, scheme in schemes.items():
                net = MultiLayerNet(x_train.shape[1], hidden_size_list, n_classes,
                                    activation=activation, weight_init_std=scheme, seed=seed,
                                    dtype=x_train.dtype, backend=backend)
                d = data[label]
                sgd_steps(net, SGD(lr), batches, indices, d["loss"][s], bar)
                d["train_acc"][s] = net.accuracy(x_train[:n_eval], t_train[:n_eval])
                d["test_acc"][s] = net.accuracy(x_test, t_test)

    settings = net_settings(dataset, x_train, n_classes, hidden_size_list, activation, lr,
                            batch_size, backend, test_size=len(x_test), iterations=iterations,
                            train_eval_size=n_eval, schemes=schemes)
    return Result("init_compare", settings, seeds, {"schemes": data})
