"""Run every experiment of the lesson and write figures, ``results.json`` and ``report.md``.

``SETTINGS['book']`` are the book's settings (each experiment's defaults); ``SETTINGS['quick']``
a reduced run for smoke tests: fewer iterations and epochs, the first 10,000 training and
2,000 test images. ``run_all`` plans every experiment first (each setting checked before any
work starts), then runs all their runs together, in ``jobs`` worker processes
(:mod:`dlkit.experiments.runs`); ``write_outputs`` draws the figures and writes the files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import numpy as np

from dlkit.experiments import (
    batchnorm_compare,
    batchnorm_speed,
    gradient_flow,
    histograms,
    init_activations,
    init_compare,
    overfitting,
    symmetry,
)
from dlkit.experiments._checks import check_data
from dlkit.experiments.claims import evaluate_claims
from dlkit.experiments.parallel import default_jobs, execute, run_each
from dlkit.experiments.report import write_report
from dlkit.experiments.results import save_results
from dlkit.experiments.runs import Run

__all__ = ["SETTINGS", "QUICK_DATA", "EXPERIMENTS", "run_experiment", "run_all", "plan_all",
           "write_outputs", "load_data", "default_jobs"]

#: experiment name -> its module: ``module.plan(...)`` and the function of the same name
_MODULES = {
    "symmetry": symmetry,
    "activation_histograms": histograms,
    "gradient_flow": gradient_flow,
    "init_compare": init_compare,
    "init_activations": init_activations,
    "batchnorm_compare": batchnorm_compare,
    "batchnorm_speed": batchnorm_speed,
    "overfitting": overfitting,
}

#: experiment name -> its function, in the lesson's order
EXPERIMENTS = {name: getattr(module, name) for name, module in _MODULES.items()}

#: experiments that use no data set (and so take no ``backend`` or ``dataset``)
_NO_DATA = {"activation_histograms"}

SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "book": {name: {} for name in EXPERIMENTS},
    "quick": {
        "symmetry": {"steps": 60},
        "activation_histograms": {},
        "gradient_flow": {"steps": 50, "probe_size": 500},
        "init_compare": {"iterations": 300, "train_eval_size": 2000},
        # the same runs as init_compare's ReLU row: done once
        "init_activations": {"iterations": 300, "train_eval_size": 2000},
        "batchnorm_compare": {"epochs": 5, "train_size": 400},
        "batchnorm_speed": {"epochs": 5, "train_size": 400},
        "overfitting": {"epochs": 50},
    },
}

#: quick mode trains on the first 10,000 training images and tests on the first 2,000
QUICK_DATA = {"train": 10_000, "test": 2_000}


def _check_names(names) -> list[str]:
    names = list(names)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown or not names:
        raise ValueError(f"experiments must name some of {list(EXPERIMENTS)}, got {names!r}")
    return [n for n in EXPERIMENTS if n in names]  # the lesson's order


def _data(data, quick: bool):
    """``data`` checked (labels as intp) and, in quick mode, cut to QUICK_DATA."""
    x_train, t_train, x_test, t_test = data
    if quick:
        x_train, t_train = x_train[:QUICK_DATA["train"]], t_train[:QUICK_DATA["train"]]
        x_test, t_test = x_test[:QUICK_DATA["test"]], t_test[:QUICK_DATA["test"]]
    return check_data(x_train, t_train, x_test, t_test)[:4]


def plan_all(data, names, *, seeds, quick: bool = False, backend: str = "numba",
             dataset: str = "arrays", overrides: dict | None = None):
    """``(plans, data)``: the plans of experiments ``names`` with the book's (or the quick)
    settings, every setting checked, and the data they run on (``None`` when no experiment
    named needs data)."""
    names = _check_names(names)
    needs_data = any(n not in _NO_DATA for n in names)
    data = _data(data, quick) if needs_data else None
    plans = []
    for name in names:
        kwargs = {**SETTINGS["quick" if quick else "book"][name], **(overrides or {}),
                  "seeds": seeds}
        if name in _NO_DATA:
            plans.append(_MODULES[name].plan(**kwargs))
        else:
            plans.append(_MODULES[name].plan(*data, backend=backend, dataset=dataset,
                                             **kwargs))
    return plans, data


def run_experiment(name: str, data, *, seeds, quick: bool = False, backend: str = "numba",
                   dataset: str = "arrays", jobs: int = 1, **overrides):
    """Run experiment ``name`` with the book's (or the quick) settings plus ``overrides``.

    ``data`` is ``(x_train, t_train, x_test, t_test)``; unused by ``activation_histograms``.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"name must be one of {sorted(EXPERIMENTS)}, got {name!r}")
    plans, data = plan_all(data, [name], seeds=seeds, quick=quick, backend=backend,
                           dataset=dataset, overrides=overrides)
    return execute(plans, data, jobs=jobs, desc=name)[0][name]


def run_all(data, *, seeds, quick: bool = False, backend: str = "numba",
            dataset: str = "arrays", jobs: int = 1, experiments=None):
    """Every experiment (or those named in ``experiments``); returns ``(results, seconds)``:
    name -> Result, name -> the time its runs took (summed over runs: with ``jobs`` > 1 they
    overlap in time). Every setting is checked before any run starts; the numbers are the
    same for every ``jobs``."""
    plans, data = plan_all(data, EXPERIMENTS if experiments is None else experiments,
                           seeds=seeds, quick=quick, backend=backend, dataset=dataset)
    return execute(plans, data, jobs=jobs, desc="reproduce")


def _save_figure(data, *, result, name, path) -> dict:
    """Draw figure ``name`` of ``result`` into the PNG file ``path``."""
    from dlkit import plots

    plots.save_png(plots.figure(result, name), path)
    return {}


def write_outputs(results: dict, out: str | os.PathLike, meta: dict,
                  claims: list | None = None, *, jobs: int = 1) -> list[str]:
    """Write one PNG per figure, ``results.json`` (every number, the claims, ``meta``) and
    ``report.md`` into the folder ``out`` (created if needed); return the paths written.

    The figures are drawn in ``jobs`` worker processes (1: in this one). Everything is
    written in a temporary folder inside ``out`` first and moved into place only when all of
    it succeeded: a failure leaves the earlier files untouched. ``claims``:
    ``evaluate_claims(results)`` when the caller already has them (else computed).
    """
    from dlkit import plots

    os.makedirs(out, exist_ok=True)
    if claims is None:
        claims = evaluate_claims(results)
    staging = tempfile.mkdtemp(prefix=".dlkit-", dir=out)
    try:
        figures = {name: [f"{f}.png" for f in plots.figure_names(r.experiment)]
                   for name, r in results.items()}
        draws = [Run("figures", _save_figure, {"result": r, "name": png[:-4],
                                               "path": os.path.join(staging, png)})
                 for name, r in results.items() for png in figures[name]]
        run_each(draws, None, jobs, lambda *_: None)
        files = [png for pngs in figures.values() for png in pngs]
        save_results(results, os.path.join(staging, "results.json"), meta=meta,
                     claims=[c.to_dict() for c in claims])
        write_report(os.path.join(staging, "report.md"), results, claims, figures, meta)
        files += ["results.json", "report.md"]
        for f in files:
            os.replace(os.path.join(staging, f), os.path.join(out, f))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [os.path.join(out, f) for f in files]


def load_data(dataset: str, root=None, download: bool = True):
    """``(x_train, t_train, x_test, t_test)`` of MNIST or Fashion-MNIST (float64 in [0, 1])."""
    from dlkit.data import load_mnist

    (x_train, t_train), (x_test, t_test) = load_mnist(dataset=dataset, root=root,
                                                      download=download, dtype=np.float64)
    return x_train, t_train, x_test, t_test
