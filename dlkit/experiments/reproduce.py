"""Run every experiment of the lesson and write figures, ``results.json`` and ``report.md``.

``SETTINGS['book']`` are the book's settings (each experiment's defaults); ``SETTINGS['quick']``
a reduced run for smoke tests (the whole of it in well under 30 s): fewer iterations and
epochs, the first 10,000 training and 2,000 test images.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dlkit.experiments.batchnorm_compare import batchnorm_compare
from dlkit.experiments.claims import evaluate_claims
from dlkit.experiments.histograms import activation_histograms
from dlkit.experiments.init_compare import init_compare
from dlkit.experiments.report import write_report
from dlkit.experiments.results import save_results
from dlkit.experiments.symmetry import symmetry

__all__ = ["SETTINGS", "QUICK_DATA", "EXPERIMENTS", "run_experiment", "run_all", "write_outputs"]

#: experiment name -> its function
EXPERIMENTS: dict[str, Callable[..., Any]] = {
    "symmetry": symmetry,
    "activation_histograms": activation_histograms,
    "init_compare": init_compare,
    "batchnorm_compare": batchnorm_compare,
}

SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "book": {name: {} for name in EXPERIMENTS},
    "quick": {
        "symmetry": {"steps": 60},
        "activation_histograms": {},
        "init_compare": {"iterations": 300, "train_eval_size": 2000},
        "batchnorm_compare": {"epochs": 5, "train_size": 400},
    },
}

#: quick mode trains on the first 10,000 training images and tests on the first 2,000
QUICK_DATA = {"train": 10_000, "test": 2_000}


def run_experiment(name: str, data, *, seeds, quick: bool = False, backend: str = "numba",
                   dataset: str = "arrays", **overrides):
    """Run experiment ``name`` with the book's (or the quick) settings plus ``overrides``.

    ``data`` is ``(x_train, t_train, x_test, t_test)``; unused by ``activation_histograms``.
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"name must be one of {sorted(EXPERIMENTS)}, got {name!r}")
    kwargs = {**SETTINGS["quick" if quick else "book"][name], **overrides, "seeds": seeds}
    if name == "activation_histograms":
        return activation_histograms(**kwargs)
    x_train, t_train, x_test, t_test = data
    if quick:
        x_train, t_train = x_train[:QUICK_DATA["train"]], t_train[:QUICK_DATA["train"]]
        x_test, t_test = x_test[:QUICK_DATA["test"]], t_test[:QUICK_DATA["test"]]
    kwargs.update(backend=backend, dataset=dataset)
    if name == "symmetry":
        return symmetry(x_train, t_train, **kwargs)
    return EXPERIMENTS[name](x_train, t_train, x_test, t_test, **kwargs)


def run_all(data, *, seeds, quick: bool = False, backend: str = "numba",
            dataset: str = "arrays"):
    """Every experiment; returns ``(results, seconds)``: name -> Result, name -> wall time."""
    results, seconds = {}, {}
    for name in EXPERIMENTS:
        start = time.perf_counter()
        results[name] = run_experiment(name, data, seeds=seeds, quick=quick, backend=backend,
                                       dataset=dataset)
        seconds[name] = time.perf_counter() - start
    return results, seconds


def write_outputs(results: dict, out: str | os.PathLike, meta: dict,
                  claims: list | None = None) -> list[str]:
    """Write one PNG per figure, ``results.json`` (every number, the claims, ``meta``) and
    ``report.md`` into the folder ``out`` (created if needed); return the paths written.

    ``claims``: ``evaluate_claims(results)`` when the caller already has them (else computed).
    """
    from dlkit import plots

    os.makedirs(out, exist_ok=True)
    written: list[str] = []
    figures: dict[str, list] = {}
    for name, result in results.items():
        figures[name] = []
        for fig_name, fig in plots.figures(result).items():
            path = os.path.join(out, f"{fig_name}.png")
            plots.save_png(fig, path)
            figures[name].append(f"{fig_name}.png")
            written.append(path)
    if claims is None:
        claims = evaluate_claims(results)
    path = os.path.join(out, "results.json")
    save_results(results, path, meta=meta, claims=[c.to_dict() for c in claims])
    written.append(path)
    path = os.path.join(out, "report.md")
    write_report(path, results, claims, figures, meta)
    written.append(path)
    return written


def load_data(dataset: str, root=None, download: bool = True):
    """``(x_train, t_train, x_test, t_test)`` of MNIST or Fashion-MNIST (float64 in [0, 1])."""
    from dlkit.data import load_mnist

    (x_train, t_train), (x_test, t_test) = load_mnist(dataset=dataset, root=root,
                                                      download=download, dtype=np.float64)
    return x_train, t_train, x_test, t_test
