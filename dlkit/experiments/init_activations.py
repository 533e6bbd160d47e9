"""Xavier for sigmoid, He for ReLU: the initialization comparison with each activation
(Deep Learning from Scratch, 6.2's summary).

The lesson ends its section on initial weights with a rule: use Xavier's initial values
(σ = √(1/n)) with sigmoid or tanh, He's (σ = √(2/n)) with ReLU. Here the comparison of
:mod:`dlkit.experiments.init_compare` (784-100-100-100-100-10, SGD, batch 128, 2000
iterations, from std 0.01, Xavier and He) runs once per activation: its final losses make a
table activation × initializer.

Each row runs at its own learning rate (``DEFAULT_LRS``). The ReLU row at the book's lr 0.01:
exactly ``init_compare``'s runs (done once when both experiments are planned together). The
sigmoid row at ``SIGMOID_LR``: at the book's 0.01 no sigmoid network leaves chance in 2000
steps (final losses 2.297–2.301), so that row could not tell the initializers apart;
``SIGMOID_LR`` is chosen by :mod:`dlkit.experiments.calibrate` (its rule is there; run
``python -m dlkit.experiments.calibrate`` to see the sweep it is chosen from).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from dlkit.experiments import init_compare as _init_compare
from dlkit.experiments.init_compare import DEFAULT_SCHEMES
from dlkit.experiments.results import Result
from dlkit.experiments.runs import Plan, run_plan
from dlkit.experiments.training import ACTIVATIONS

__all__ = ["DEFAULT_ACTIVATIONS", "DEFAULT_LRS", "SIGMOID_LR", "init_activations", "plan"]

#: the rows of the table: the activation Xavier is made for, and the one He is made for
DEFAULT_ACTIVATIONS = ("sigmoid", "relu")

#: the sigmoid row's learning rate, from ``python -m dlkit.experiments.calibrate`` (see there)
SIGMOID_LR = 3.0

#: activation -> the learning rate of its row: ReLU the book's 0.01, sigmoid ``SIGMOID_LR``
#: (tanh, on request, the book's 0.01)
DEFAULT_LRS = {"sigmoid": SIGMOID_LR, "tanh": 0.01, "relu": 0.01}


def init_activations(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray,
    t_test: np.ndarray,
    *,
    activations=DEFAULT_ACTIVATIONS,
    schemes: dict = DEFAULT_SCHEMES,
    hidden_size_list=(100, 100, 100, 100),
    lr=DEFAULT_LRS,
    batch_size: int = 128,
    iterations: int = 2000,
    train_eval_size: int = 10_000,
    seeds=(0,),
    backend: str = "numba",
    dataset: str = "arrays",
) -> Result:
    """:func:`~dlkit.experiments.init_compare.init_compare` once per activation.

    Parameters are ``init_compare``'s, with ``activations`` (names of ``'sigmoid'``,
    ``'tanh'``, ``'relu'``) instead of one ``activation``, and ``lr`` either one learning
    rate for every row or a dict activation -> learning rate (``DEFAULT_LRS``).

    Returns
    -------
    Result with ``data['activations'][activation][label]``: ``loss`` (S, iterations),
    ``train_acc`` (S,), ``test_acc`` (S,) and ``weight_init``, as ``init_compare``'s
    ``data['schemes'][label]``; ``settings['lr']`` the dict activation -> learning rate.
    """
    p = plan(x_train, t_train, x_test, t_test, activations=activations, schemes=schemes,
             hidden_size_list=hidden_size_list, lr=lr, batch_size=batch_size,
             iterations=iterations, train_eval_size=train_eval_size, seeds=seeds,
             backend=backend, dataset=dataset)
    return run_plan(p, (x_train, t_train, x_test, t_test))


def plan(x_train, t_train, x_test=None, t_test=None, *, activations=DEFAULT_ACTIVATIONS,
         lr=DEFAULT_LRS, **settings) -> Plan:
    """:func:`init_activations` as independent runs: those of ``init_compare``'s plan for
    each activation, at that activation's learning rate."""
    given = activations
    activations = [] if isinstance(activations, str) else list(activations)
    if (not activations or len(set(activations)) != len(activations)
            or not all(a in ACTIVATIONS for a in activations)):
        raise ValueError(f"activations must be a non-empty list of distinct names from "
                         f"{list(ACTIVATIONS)}, got {given!r}")
    if "activation" in settings:
        raise TypeError("init_activations takes activations=[...], not activation=")
    if isinstance(lr, dict):
        missing = [a for a in activations if a not in lr]
        if missing:
            raise ValueError(f"lr must give a learning rate for every activation: missing "
                             f"{missing} in {lr!r}")
        lrs = {a: lr[a] for a in activations}
    else:
        lrs = dict.fromkeys(activations, lr)
    plans = [_init_compare.plan(x_train, t_train, x_test, t_test, activation=a, lr=lrs[a],
                                **settings) for a in activations]
    runs = [run for p in plans for run in p.runs]
    return Plan("init_activations", runs, partial(_assemble, activations, plans))


def _assemble(activations, plans, outputs) -> Result:
    results, start = [], 0
    for p in plans:
        results.append(p.assemble(outputs[start:start + len(p.runs)]))
        start += len(p.runs)
    settings = {k: v for k, v in results[0].settings.items() if k != "activation"}
    settings["activations"] = list(activations)
    settings["lr"] = {a: r.settings["lr"] for a, r in zip(activations, results, strict=True)}
    data = {a: r.data["schemes"] for a, r in zip(activations, results, strict=True)}
    return Result("init_activations", settings, results[0].seeds, {"activations": data})
