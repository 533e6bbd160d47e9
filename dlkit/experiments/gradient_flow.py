"""Gradients layer by layer: do they vanish? (Deep Learning from Scratch, 6.2.2–6.2.3)

The histogram experiment shows what the initial weight scale does to the activations; the
lesson draws its conclusions about backpropagation:

- sigmoid, σ = 1: the activations pile up at 0 and 1, where the slope z(1 − z) is nearly 0,
  "so the gradients get smaller and smaller in backpropagation and vanish" (勾配消失);
- ReLU, σ = 0.01: the activations are near 0, and the weight gradients are small too;
- Xavier (sigmoid, tanh) and He (ReLU): the spread is kept in every layer (whether the
  gradient's scale is kept too is measured here; the slides do not say).

Here the configurations of the histograms (the book's six and tanh with Xavier) train a
network on the lesson's data,
``input_size``-100-100-100-100-100-``classes`` (the histograms' five layers of 100 units),
with SGD. On a fixed probe batch (the first ``probe_size`` training samples) the gradients are
measured at initialization and after ``steps`` steps, backpropagating through the network's
layers one by one as the book's loop does::

    weight gradient      g_W(l) = RMS(∂L/∂W_l) = √(mean of (∂L/∂W_l)² over its entries)
    activation gradient  g_z(l) = RMS(∂L/∂z_l),  z_l the output of hidden layer l

(∂L/∂z_l is what backpropagation passes from layer l + 1 down to layer l.)
"""

from __future__ import annotations

from functools import partial

import numpy as np

from dlkit.experiments._checks import check_data, check_seeds, one_of, positive_float, positive_int
from dlkit.experiments.histograms import DEFAULT_CONFIGS as _HISTOGRAM_CONFIGS
from dlkit.experiments.histograms import check_configs
from dlkit.experiments.results import Result
from dlkit.experiments.runs import Plan, Run, run_plan
from dlkit.experiments.training import (
    BACKENDS,
    MiniBatches,
    batch_indices,
    net_settings,
    net_work,
    sgd_steps,
)
from dlkit.network import MultiLayerNet
from dlkit.optimizers import SGD

__all__ = ["DEFAULT_CONFIGS", "gradient_flow", "plan", "layer_gradients"]

#: the configurations of the histograms: the book's six (figures 6-10 to 6-14: sigmoid from
#: σ=1, σ=0.01 and Xavier, ReLU from σ=0.01, Xavier and He) and tanh with Xavier, the
#: activation Xavier's derivation assumes (linear near 0, slope 1)
DEFAULT_CONFIGS = _HISTOGRAM_CONFIGS


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(a))))


def layer_gradients(net: MultiLayerNet, x: np.ndarray, t: np.ndarray):
    """Backpropagate the loss of ``(x, t)`` through ``net.layers`` one by one.

    For a network without BatchNorm or Dropout. Returns ``(g_W, g_z)``: the RMS of ∂L/∂W_l
    for every Affine layer l = 1..L+1 (L+1,) and of ∂L/∂z_l for every hidden layer l = 1..L
    (L,). The parameters are not changed.
    """
    z = x
    for layer in net.layers.values():
        z = layer.forward(z)
    net.last_layer.forward(z, t)
    dout = net.last_layer.backward(1)
    L = net.hidden_layer_num
    g_W, g_z = np.zeros(L + 1), np.zeros(L)
    for name, layer in reversed(net.layers.items()):
        dout = layer.backward(dout)
        if name.startswith("Affine"):
            idx = int(name[len("Affine"):])
            g_W[idx - 1] = _rms(layer.dW)
            if idx > 1:
                g_z[idx - 2] = _rms(dout)  # ∂L/∂z of the hidden layer below Affine<idx>
    return g_W, g_z


def gradient_flow(
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_test: np.ndarray | None = None,
    t_test: np.ndarray | None = None,
    *,
    configs=DEFAULT_CONFIGS,
    hidden_size_list=(100, 100, 100, 100, 100),
    lr: float = 0.01,
    batch_size: int = 128,
    steps: int = 200,
    probe_size: int = 1000,
    seeds=(0,),
    backend: str = "numba",
    dataset: str = "arrays",
) -> Result:
    """The gradients of every layer at initialization and after ``steps`` SGD steps.

    Parameters
    ----------
    x_train, t_train : (N, D) float inputs and (N,) integer labels (the test data are unused).
    configs : configurations as the histogram experiment takes them, ``{'name',
        'activation', 'weight_init'}`` (the histograms' seven by default).
    hidden_size_list, lr, batch_size : the network and SGD (5 × 100 units, 0.01, 128).
    steps : SGD steps between the two measurements (mini-batches drawn with replacement from
        all of ``x_train``, the same for every configuration of a seed).
    probe_size : the gradients are measured on the first ``probe_size`` training samples.
    seeds : one run per seed and configuration (seed → initial weights and batches).

    Returns
    -------
    Result with ``data['configs'][name]``: ``weight_grad`` (S, 2, L + 1) RMS ∂L/∂W of every
    Affine layer and ``act_grad`` (S, 2, L) RMS ∂L/∂z of every hidden layer, [:, 0] at
    initialization and [:, 1] after ``steps`` steps; ``loss`` (S, steps) the mini-batch loss
    of each step; ``activation``, ``weight_init``.
    """
    p = plan(x_train, t_train, configs=configs, hidden_size_list=hidden_size_list, lr=lr,
             batch_size=batch_size, steps=steps, probe_size=probe_size, seeds=seeds,
             backend=backend, dataset=dataset)
    return run_plan(p, (x_train, t_train, x_test, t_test))


def plan(x_train, t_train, x_test=None, t_test=None, *, configs=DEFAULT_CONFIGS,
         hidden_size_list=(100, 100, 100, 100, 100), lr: float = 0.01, batch_size: int = 128,
         steps: int = 200, probe_size: int = 1000, seeds=(0,), backend: str = "numba",
         dataset: str = "arrays") -> Plan:
    """:func:`gradient_flow` as independent runs, one per seed and configuration."""
    x_train, t_train, _, _, n_classes = check_data(x_train, t_train)
    hidden_size_list = [positive_int("hidden_size_list[i]", h) for h in hidden_size_list]
    if not hidden_size_list:
        raise ValueError("hidden_size_list must name at least one hidden layer, got []")
    configs = check_configs(configs, hidden_size_list[0])
    lr = positive_float("lr", lr)
    batch_size = positive_int("batch_size", batch_size)
    steps = positive_int("steps", steps)
    probe_size = min(positive_int("probe_size", probe_size), len(x_train))
    seeds = check_seeds(seeds)
    backend = one_of("backend", backend, BACKENDS)

    sizes = [x_train.shape[1], *hidden_size_list, n_classes]
    common = {"hidden_size_list": hidden_size_list, "n_classes": n_classes, "lr": lr,
              "batch_size": batch_size, "steps": steps, "probe_size": probe_size,
              "backend": backend}
    runs = [Run("gradient_flow", _run,
                {"seed": seed, "activation": c["activation"], "weight_init": c["weight_init"],
                 **common}, net_work(sizes, batch_size, steps, 2 * 3 * probe_size))
            for seed in seeds for c in configs]
    settings = net_settings(dataset, x_train, n_classes, hidden_size_list, "per configuration",
                            lr, batch_size, backend, steps=steps, probe_size=probe_size,
                            configs=configs)
    return Plan("gradient_flow", runs, partial(_assemble, settings, seeds, configs))


def _run(data, *, seed, activation, weight_init, hidden_size_list, n_classes, lr, batch_size,
         steps, probe_size, backend) -> dict:
    """One seed, one configuration: the gradients on the probe batch before and after
    training, and the loss of every step."""
    x_train, t_train = data[0], data[1].astype(np.intp, copy=False)
    x_probe, t_probe = x_train[:probe_size], t_train[:probe_size]
    net = MultiLayerNet(x_train.shape[1], hidden_size_list, n_classes, activation=activation,
                        weight_init_std=weight_init, seed=seed, dtype=x_train.dtype,
                        backend=backend)
    L = len(hidden_size_list)
    out = {"weight_grad": np.zeros((2, L + 1)), "act_grad": np.zeros((2, L)),
           "loss": np.zeros(steps)}
    out["weight_grad"][0], out["act_grad"][0] = layer_gradients(net, x_probe, t_probe)
    indices = batch_indices(np.random.default_rng(seed), len(x_train), batch_size, steps)
    sgd_steps(net, SGD(lr), MiniBatches(x_train, t_train, batch_size), indices, out["loss"])
    out["weight_grad"][1], out["act_grad"][1] = layer_gradients(net, x_probe, t_probe)
    return out


def _assemble(settings, seeds, configs, outputs) -> Result:
    n = len(configs)
    data = {}
    for i, c in enumerate(configs):
        runs = outputs[i::n]  # seed-major order: this configuration's run of every seed
        data[c["name"]] = {"activation": c["activation"], "weight_init": c["weight_init"],
                           **{key: np.stack([r[key] for r in runs])
                              for key in ("weight_grad", "act_grad", "loss")}}
    return Result("gradient_flow", settings, seeds, {"configs": data})
