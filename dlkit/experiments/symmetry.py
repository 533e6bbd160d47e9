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

from functools import partial

import numpy as np

from dlkit.experiments._checks import (
    check_data,
    check_schemes,
    check_seeds,
    positive_float,
    positive_int,
)
from dlkit.experiments.results import Result
from dlkit.experiments.runs import Plan, Run, run_plan
from dlkit.experiments.training import (
    MiniBatches,
    batch_indices,
    net_settings,
    net_work,
    sgd_steps,
)
from dlkit.network import MultiLayerNet
from dlkit.optimizers import SGD

__all__ = ["DEFAULT_INITS", "spread", "plan", "symmetry"]

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
    p = plan(x_train, t_train, inits=inits, hidden_size_list=hidden_size_list,
             activation=activation, lr=lr, batch_size=batch_size, steps=steps, seeds=seeds,
             backend=backend, dataset=dataset)
    return run_plan(p, (x_train, t_train, None, None))


def plan(x_train, t_train, x_test=None, t_test=None, *, inits: dict = DEFAULT_INITS,
         hidden_size_list=(50, 50), activation: str = "sigmoid", lr: float = 0.5,
         batch_size: int = 100, steps: int = 200, seeds=(0,), backend: str = "numba",
         dataset: str = "arrays") -> Plan:
    """:func:`symmetry` as independent runs, one per seed and initialization (the test data
    are not used)."""
    x_train, t_train, _, _, n_classes = check_data(x_train, t_train)
    inits = check_schemes("inits", inits)
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    steps = positive_int("steps", steps)
    seeds = check_seeds(seeds)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]

    sizes = [x_train.shape[1], *hidden_size_list, n_classes]
    common = {"hidden_size_list": hidden_size_list, "n_classes": n_classes,
              "activation": activation, "lr": lr, "batch_size": batch_size, "steps": steps,
              "backend": backend}
    runs = [Run("symmetry", _run, {"seed": seed, "weight_init": scheme, **common},
                net_work(sizes, batch_size, steps))
            for seed in seeds for scheme in inits.values()]
    settings = net_settings(dataset, x_train, n_classes, hidden_size_list, activation, lr,
                            batch_size, backend, steps=steps, inits=inits)
    return Plan("symmetry", runs, partial(_assemble, settings, seeds, inits))


def _run(data, *, seed, weight_init, hidden_size_list, n_classes, activation, lr, batch_size,
         steps, backend) -> dict:
    """One seed, one initialization: the spread of every hidden layer before training and
    after every step, the loss of every step, how far the hidden weights moved."""
    x_train, t_train = data[0], data[1].astype(np.intp, copy=False)
    n_hidden = len(hidden_size_list)
    indices = batch_indices(np.random.default_rng(seed), len(x_train), batch_size, steps)
    batches = MiniBatches(x_train, t_train, batch_size)
    net = MultiLayerNet(x_train.shape[1], hidden_size_list, n_classes, activation=activation,
                        weight_init_std=weight_init, seed=seed, dtype=x_train.dtype,
                        backend=backend)
    optimizer = SGD(lr)
    out = {"spread": np.zeros((steps + 1, n_hidden)), "loss": np.zeros(steps),
           "moved": np.zeros(n_hidden)}
    W0 = [net.params[f"W{layer + 1}"].copy() for layer in range(n_hidden)]
    for step in range(steps + 1):
        for layer in range(n_hidden):
            out["spread"][step, layer] = spread(net.params[f"W{layer + 1}"],
                                                net.params[f"b{layer + 1}"])
        if step < steps:
            sgd_steps(net, optimizer, batches, indices[step:step + 1],
                      out["loss"][step:step + 1])
    for layer in range(n_hidden):
        out["moved"][layer] = np.abs(net.params[f"W{layer + 1}"] - W0[layer]).max()
    return out


def _assemble(settings, seeds, inits, outputs) -> Result:
    """Outputs in the runs' order (seed-major) -> data['inits'][label] with seeds stacked."""
    labels = list(inits)
    by_seed = [outputs[s * len(labels):(s + 1) * len(labels)] for s in range(len(seeds))]
    data = {
        label: {"weight_init": inits[label],
                **{key: np.stack([runs[i][key] for runs in by_seed])
                   for key in ("spread", "loss", "moved")}}
        for i, label in enumerate(labels)
    }
    return Result("symmetry", settings, seeds, {"inits": data})
