"""The lesson's experiments (Deep Learning from Scratch, 6.2–6.3), one module each.

=========================  ==============================================================
``symmetry``               zero / constant vs random initial weights: do units stay equal?
``activation_histograms``  histograms of 5 layers' activations for 7 weight scales
``init_compare``           784-100×4-10 ReLU trained from std 0.01, Xavier and He
``batchnorm_compare``      with vs without BatchNorm for 16 initial weight scales
=========================  ==============================================================

Each returns a :class:`~dlkit.experiments.results.Result` (plain data, saved as JSON);
``dlkit.plots`` draws it, ``claims.evaluate_claims`` checks the lesson's claims on it, and
``reproduce`` runs them all (``dlkit reproduce``). Experiments never print or draw.

The names below are imported on first use, so that ``import dlkit.experiments.cli`` (and
``dlkit --help``) does not load Numba.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Result": "dlkit.experiments.results",
    "symmetry": "dlkit.experiments.symmetry",
    "activation_histograms": "dlkit.experiments.histograms",
    "init_compare": "dlkit.experiments.init_compare",
    "batchnorm_compare": "dlkit.experiments.batchnorm_compare",
    "evaluate_claims": "dlkit.experiments.claims",
    "run_all": "dlkit.experiments.reproduce",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dlkit.experiments' has no attribute {name!r}")
