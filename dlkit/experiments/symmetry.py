"""Why the initial weights must not all be equal (Deep Learning from Scratch, 6.2.1).

If every weight of a layer starts at the same value (0, or any constant c), every hidden unit
of that layer computes the same output, receives the same gradient, gets the same update, and
so stays identical to the others after any number of steps: the layer behaves like a single
unit. Random initial weights break this symmetry.

The measure, for a hidden layer with weights W (n_in, n_units) and bias b (n_units,)::

    spread = max over inputs i of ( max_j W[i, j] − min_j W[i, j] )   (b counted as one more row)

the largest difference between two units' incoming weights: 0 exactly when all units of the
layer are identical.
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

__all__ = ["DEFAULT_INITS", "spread", "symmetry"]

#: label -> weight_init_std: two symmetric starts and a random one (Xavier suits sigmoid).
DEFAULT_INITS = {"zeros": "zeros", "constant 0.01": ("constant", 0.01), "Xavier": "xavier"}


def spread(W: np.ndarray, b: np.ndarray) -> float:
    """max_i (max_j W[i, j] − min_j W[i, j]) over the rows of W and b: how different the
    layer's units (columns) are; 0 when they are all identical."""
    return float(max(np.ptp(W, axis=1).max(), np.ptp(b)))


def symmetry(
    x_train: np.ndarray,
    t_train: np.ndarray,
    *,
    inits: dict = DEFAULT_INITS,
    hidden_size_list=(50, 50),
    activation: str = "sigmoid",
    lr: float = 0.5,
    batch_size: int = 100,
    steps: int = 200,
    seeds=(0,),
    backend: str = "numba",
    dataset: str = "arrays",
) -> Result:
    """Train a small network from each initialization; measure the units' spread every step.

    Sigmoid by default: with all-zero weights every hidden unit outputs 0.5, so the output
    layer learns and the hidden layers change, yet their units stay identical. (With ReLU and
    zeros nothing would change at all: ReLU(0) = 0 passes no gradient.)

    Returns
    -------
    Result with ``data['inits'][label]``: ``spread`` (S, steps + 1, n_hidden_layers) before
    training and after every step, ``loss`` (S, steps) mini-batch loss of each step, and
    ``moved`` (S, n_hidden_layers) max |W_final − W_initial|: the hidden weights did change.
    """
    x_train, t_train, _, _, n_classes = check_data(x_train, t_train)
    inits = check_schemes("inits", inits)
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    steps = positive_int("steps", steps)
    seeds = check_seeds(seeds)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]
    n_hidden = len(hidden_size_list)

    S = len(seeds)
    data = {
        label: {
            "weight_init": scheme,
            "spread": np.zeros((S, steps + 1, n_hidden)),
            "loss": np.zeros((S, steps)),
            "moved": np.zeros((S, n_hidden)),
        }
        for label, scheme in inits.items()
    }
    batches = MiniBatches(x_train, t_train, batch_size)
    with one_blas_thread(), progress(S * len(inits) * steps, "symmetry") as bar:
        for s, seed in enumerate(seeds):
            indices = batch_indices(np.random.default_rng(seed), len(x_train), batch_size, steps)
            for label, scheme in inits.items():
                net = MultiLayerNet(x_train.shape[1], hidden_size_list, n_classes,
                                    activation=activation, weight_init_std=scheme, seed=seed,
                                    dtype=x_train.dtype, backend=backend)
                optimizer = SGD(lr)
                d = data[label]
                W0 = [net.params[f"W{layer + 1}"].copy() for layer in range(n_hidden)]
                for step in range(steps + 1):
                    for layer in range(n_hidden):
                        d["spread"][s, step, layer] = spread(
                            net.params[f"W{layer + 1}"], net.params[f"b{layer + 1}"]
                        )
                    if step < steps:
                        sgd_steps(net, optimizer, batches, indices[step:step + 1],
                                  d["loss"][s, step:step + 1], bar)
                for layer in range(n_hidden):
                    d["moved"][s, layer] = np.abs(net.params[f"W{layer + 1}"] - W0[layer]).max()

    settings = net_settings(dataset, x_train, n_classes, hidden_size_list, activation, lr,
                            batch_size, backend, steps=steps, inits=inits)
    return Result("symmetry", settings, seeds, {"inits": data})
