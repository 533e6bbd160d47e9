"""Activation histograms of a deep stack of layers (Deep Learning from Scratch, 6.2.2–6.2.3).

The book's experiment (``weight_init_activation_histogram.py``): an input of 1000 samples ×
100 features drawn from N(0, 1) goes through ``hidden_layer_size = 5`` layers of
``node_num = 100`` units, each ``a = z · W`` (no bias) then ``z = h(a)``; the histogram of every
layer's activations ``z`` (30 bins over (0, 1)) shows what the initial weight scale does:

- sigmoid, σ = 1: activations pile up at 0 and 1 → the slope z(1 − z) vanishes;
- sigmoid, σ = 0.01: activations pile up at 0.5 → every unit says the same thing;
- sigmoid or tanh, Xavier (σ = √(1/n)): the spread is kept from layer to layer;
- ReLU, σ = 0.01: activations shrink toward 0 layer after layer;
- ReLU, Xavier: deeper layers drift toward 0 (ReLU halves the second moment);
- ReLU, He (σ = √(2/n)): the spread is kept.

Everything here is plain NumPy (the book's formulas); no training, no data set.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from dlkit.experiments._checks import check_seeds, positive_int
from dlkit.experiments.results import Result
from dlkit.experiments.runs import Plan, Run, run_plan
from dlkit.initializers import init_std, init_weight

__all__ = ["DEFAULT_CONFIGS", "ACTIVATIONS", "activation_histograms", "plan", "check_configs"]


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _relu(a):
    return np.maximum(0.0, a)


#: activation name -> (h(a), histogram range, saturation test on z = h(a)).
#: "saturated" = the activation's slope is (nearly) 0 there, so the gradient vanishes:
#: sigmoid z < 0.1 or z > 0.9 (slope z(1 − z) < 0.09, against 0.25 at z = 0.5);
#: tanh |z| > 0.9 (slope 1 − z² < 0.19); ReLU z = 0 (slope 0).
ACTIVATIONS: dict[str, tuple[Callable[[Any], Any], tuple[float, float], Callable[[Any], Any]]] = {
    "sigmoid": (_sigmoid, (0.0, 1.0), lambda z: (z < 0.1) | (z > 0.9)),
    "tanh": (np.tanh, (-1.0, 1.0), lambda z: np.abs(z) > 0.9),
    "relu": (_relu, (0.0, 1.0), lambda z: z == 0.0),
}

#: The book's configurations (figures 6-10, 6-11, 6-13, 6-14) plus tanh with Xavier.
DEFAULT_CONFIGS = (
    {"name": "sigmoid, σ=1", "activation": "sigmoid", "weight_init": 1.0},
    {"name": "sigmoid, σ=0.01", "activation": "sigmoid", "weight_init": 0.01},
    {"name": "sigmoid, Xavier", "activation": "sigmoid", "weight_init": "xavier"},
    {"name": "tanh, Xavier", "activation": "tanh", "weight_init": "xavier"},
    {"name": "ReLU, σ=0.01", "activation": "relu", "weight_init": 0.01},
    {"name": "ReLU, Xavier", "activation": "relu", "weight_init": "xavier"},
    {"name": "ReLU, He", "activation": "relu", "weight_init": "he"},
)


def check_configs(configs, node_num):
    """The configurations as a list; ValueError naming the first one that is not a dict
    ``{'name', 'activation', 'weight_init'}`` of a known activation and scheme, or whose
    name is used twice."""
    configs = list(configs)
    if not configs:
        raise ValueError("configs must name at least one configuration, got none")
    names = set()
    for i, c in enumerate(configs):
        if not isinstance(c, dict) or not {"name", "activation", "weight_init"} <= set(c):
            raise ValueError(
                f"configs[{i}] must be a dict with keys 'name', 'activation', 'weight_init', "
                f"got {c!r}"
            )
        if c["activation"] not in ACTIVATIONS:
            raise ValueError(
                f"configs[{i}]['activation'] must be one of {sorted(ACTIVATIONS)}, "
                f"got {c['activation']!r}"
            )
        init_std(node_num, node_num, c["weight_init"])  # raises on an unknown scheme
        if c["name"] in names:
            raise ValueError(f"configs[{i}]['name'] {c['name']!r} is used twice")
        names.add(c["name"])
    return configs


def activation_histograms(
    configs=DEFAULT_CONFIGS,
    *,
    n_samples: int = 1000,
    node_num: int = 100,
    hidden_layer_size: int = 5,
    bins: int = 30,
    seeds=(0,),
) -> Result:
    """Forward N(0, 1) input through ``hidden_layer_size`` layers and measure each layer.

    For each configuration and seed: ``x ~ N(0, 1)`` of shape (n_samples, node_num); for layer
    l = 1..L: ``W ~ init_weight(node_num, node_num, weight_init)``, ``a = z_{l-1} · W``,
    ``z_l = h(a)``. The input and the standard-normal draws behind W come from
    ``default_rng(seed)``, the same for every configuration, so configurations differ only in
    their scale and activation.

    Parameters
    ----------
    configs : dicts ``{'name', 'activation' ('sigmoid'|'tanh'|'relu'), 'weight_init'}``
        (``weight_init`` as :func:`dlkit.initializers.init_weight` takes it).
    n_samples, node_num, hidden_layer_size : 1000, 100, 5 as in the book.
    bins : histogram bins over (0, 1) (sigmoid, ReLU) or (−1, 1) (tanh); 30 as in the book.
    seeds : one run per seed.

    Returns
    -------
    Result with ``data['configs'][name]`` holding, for S seeds and L layers:
    ``hist`` (S, L, bins) counts of z in each bin (values outside the range are not counted);
    ``edges`` (bins + 1,); ``mean``, ``std`` (S, L) of z over all samples and units;
    ``saturated`` (S, L) fraction where the slope vanishes (see :data:`ACTIVATIONS`);
    ``zero`` (S, L) fraction of z exactly 0; and ``activation``, ``weight_init``.
    """
    p = plan(configs=configs, n_samples=n_samples, node_num=node_num,
             hidden_layer_size=hidden_layer_size, bins=bins, seeds=seeds)
    return run_plan(p, None)


def plan(x_train=None, t_train=None, x_test=None, t_test=None, *, configs=DEFAULT_CONFIGS,
         n_samples: int = 1000, node_num: int = 100, hidden_layer_size: int = 5, bins: int = 30,
         seeds=(0,)) -> Plan:
    """:func:`activation_histograms` as independent runs, one per seed and configuration
    (no data set is used)."""
    n_samples = positive_int("n_samples", n_samples)
    node_num = positive_int("node_num", node_num)
    hidden_layer_size = positive_int("hidden_layer_size", hidden_layer_size)
    bins = positive_int("bins", bins)
    seeds = check_seeds(seeds)
    configs = check_configs(configs, node_num)

    shape = {"n_samples": n_samples, "node_num": node_num,
             "hidden_layer_size": hidden_layer_size, "bins": bins}
    runs = [Run("activation_histograms", _run,
                {"seed": seed, "activation": c["activation"], "weight_init": c["weight_init"],
                 **shape}, float(n_samples * node_num * node_num * hidden_layer_size))
            for seed in seeds for c in configs]
    settings = {"configs": configs, **shape}
    return Plan("activation_histograms", runs, partial(_assemble, settings, seeds, configs))


def _edges(activation: str, bins: int) -> np.ndarray:
    lo, hi = ACTIVATIONS[activation][1]
    return np.linspace(lo, hi, bins + 1)


def _run(data, *, seed, activation, weight_init, n_samples, node_num, hidden_layer_size,
         bins) -> dict:
    """One seed, one configuration: each layer's histogram, mean, std, saturated, zeros."""
    h, _, saturated = ACTIVATIONS[activation]
    edges = _edges(activation, bins)
    L = hidden_layer_size
    out = {"hist": np.zeros((L, bins), dtype=np.int64), "mean": np.zeros(L),
           "std": np.zeros(L), "saturated": np.zeros(L), "zero": np.zeros(L)}
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_samples, node_num))
    for layer in range(L):
        W = init_weight(node_num, node_num, weight_init, rng)
        z = h(z @ W)
        out["hist"][layer] = np.histogram(z, bins=edges)[0]
        out["mean"][layer] = z.mean()
        out["std"][layer] = z.std()
        out["saturated"][layer] = saturated(z).mean()
        out["zero"][layer] = np.mean(z == 0.0)
    return out


def _assemble(settings, seeds, configs, outputs) -> Result:
    n = len(configs)
    data = {}
    for i, c in enumerate(configs):
        runs = outputs[i::n]  # seed-major order: this configuration's run of every seed
        data[c["name"]] = {
            "activation": c["activation"],
            "weight_init": c["weight_init"],
            "edges": _edges(c["activation"], settings["bins"]),
            **{key: np.stack([r[key] for r in runs])
               for key in ("hist", "mean", "std", "saturated", "zero")},
        }
    return Result("activation_histograms", settings, seeds, {"configs": data})
