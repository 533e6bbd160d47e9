"""The mini-batch SGD loop the training experiments share, and their progress bar.

The book's loop, step by step::

    batch_mask = np.random.choice(train_size, batch_size)   # with replacement
    x_batch, t_batch = x_train[batch_mask], t_train[batch_mask]
    grads = network.gradient(x_batch, t_batch)
    optimizer.update(network.params, grads)

Here the batch indices of a whole run are drawn up front (``batch_indices``), so that every
configuration of an experiment sees the same batches, and each step copies its batch into two
buffers allocated once (``np.take(..., out=)``): the loop allocates no array per step (the
layers and the optimizer reuse theirs too). The loss recorded for a step is the mini-batch loss
of that step's forward pass, before the update (the book evaluates it again after the update;
reading it from ``network.last_layer.loss`` saves that extra forward pass).

BLAS runs on one thread while an experiment trains (``one_blas_thread``): the matrices of
these networks are small (batch 100–128 × 784 × 100), so threads cost more to start and
synchronise than they save, and on a busy machine OpenBLAS's waiting threads make one
training step many times slower.
"""

from __future__ import annotations

import sys

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

__all__ = ["batch_indices", "MiniBatches", "sgd_steps", "progress", "one_blas_thread",
           "net_settings", "net_work", "ACTIVATIONS", "BACKENDS"]

#: what MultiLayerNet's ``activation`` and ``backend`` accept, checked before any run starts
ACTIVATIONS = ("relu", "sigmoid", "tanh")
BACKENDS = ("numba", "numpy")


def batch_indices(rng: np.random.Generator, train_size: int, batch_size: int,
                  iterations: int) -> np.ndarray:
    """(iterations, batch_size) sample indices drawn uniformly with replacement, as the book's
    ``np.random.choice(train_size, batch_size)`` at every step."""
    return rng.integers(0, train_size, size=(iterations, batch_size), dtype=np.intp)


class MiniBatches:
    """Two buffers, ``x`` (batch_size, D) and ``t`` (batch_size,), refilled in place by
    :meth:`fill` from the training arrays; the arrays are C-contiguous, so the kernels see the
    same array type at every step (no recompilation)."""

    def __init__(self, x_train: np.ndarray, t_train: np.ndarray, batch_size: int):
        self.x_train, self.t_train = x_train, t_train
        self.x = np.empty((batch_size, x_train.shape[1]), dtype=x_train.dtype)
        self.t = np.empty(batch_size, dtype=t_train.dtype)

    def fill(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # mode="clip": with the default mode="raise", NumPy fills a temporary copy of `out`
        # first (to leave `out` untouched on a bad index); the indices here are always valid.
        np.take(self.x_train, idx, axis=0, out=self.x, mode="clip")
        np.take(self.t_train, idx, out=self.t, mode="clip")
        return self.x, self.t


def sgd_steps(network, optimizer, batches: MiniBatches, indices: np.ndarray,
              losses: np.ndarray, bar: tqdm | None = None) -> None:
    """One training step per row of ``indices``; ``losses[i]`` gets step i's mini-batch loss.

    ``losses`` is written in place (a preallocated float array of len(indices)); ``bar``, a
    progress bar, advances by one per step.
    """
    for i in range(len(indices)):
        x, t = batches.fill(indices[i])
        grads = network.gradient(x, t)
        losses[i] = network.last_layer.loss
        optimizer.update(network.params, grads)
        if bar is not None:
            bar.update(1)


def progress(total: int, desc: str, unit: str = "step") -> tqdm:
    """A tqdm bar on a terminal (stderr), silent otherwise."""
    return tqdm(total=total, desc=desc, leave=False, disable=not sys.stderr.isatty(),
                unit=unit, dynamic_ncols=True)


def one_blas_thread() -> threadpool_limits:
    """Context manager: BLAS (NumPy's matrix products) on a single thread inside the block."""
    return threadpool_limits(limits=1, user_api="blas")


def net_settings(dataset: str, x: np.ndarray, n_classes: int, hidden_size_list, activation: str,
                 lr: float, batch_size: int, backend: str, **specific) -> dict:
    """The settings every training experiment records, in one order: data, network, SGD,
    then the experiment's own ``specific`` settings, then ``backend`` and ``dtype``.

    ``specific`` may hold ``train_size`` / ``test_size``, which are placed with the data
    (``train_size`` defaults to ``len(x)``).
    """
    data = {"dataset": dataset, "train_size": specific.pop("train_size", len(x))}
    if "test_size" in specific:
        data["test_size"] = specific.pop("test_size")
    return {
        **data,
        "input_size": x.shape[1],
        "hidden_size_list": list(hidden_size_list),
        "output_size": n_classes,
        "activation": activation,
        "optimizer": "SGD",
        "lr": lr,
        "batch_size": batch_size,
        **specific,
        "backend": backend,
        "dtype": x.dtype.name,
    }


def net_work(sizes, batch_size: int, steps: int, eval_samples: int = 0) -> float:
    """The multiply-adds of ``steps`` training steps and ``eval_samples`` forward passes of a
    fully connected network with layer sizes ``sizes`` (e.g. [784, 100, 10]): a forward pass
    costs Σ n_l·n_(l+1) per sample, a step about three times that per sample of the batch.
    An estimate of a run's cost, to start the longest runs first."""
    per_sample = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return float(per_sample * (3 * batch_size * steps + eval_samples))
