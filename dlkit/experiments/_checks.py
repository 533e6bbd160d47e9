"""Checks at the experiments' public boundary: clear errors, nothing silently corrected."""

from __future__ import annotations

import numbers

import numpy as np

from dlkit import validate
from dlkit.initializers import init_std
from dlkit.validate import positive_int
from dlkit.validate import positive_number as positive_float

__all__ = ["check_seeds", "positive_int", "positive_float", "check_schemes", "check_data",
           "one_of", "fraction", "positive_floats"]


def check_seeds(seeds) -> list[int]:
    """The seeds as a list of distinct ints >= 0 (at least one)."""
    given = seeds
    seeds = [] if isinstance(seeds, (str, bytes)) else list(np.atleast_1d(seeds).tolist())
    if not seeds or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) >= 0
        for s in seeds
    ):
        raise ValueError(f"seeds must be a non-empty list of ints >= 0, got {given!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {given!r}")
    return [int(s) for s in seeds]


def check_schemes(name: str, schemes: dict) -> dict:
    """``schemes`` (label -> ``weight_init_std``) unchanged; ValueError naming ``name`` unless
    it is a non-empty dict whose every scheme :func:`dlkit.initializers.init_std` accepts."""
    if not isinstance(schemes, dict) or not schemes:
        raise ValueError(f"{name} must be a non-empty dict label -> weight_init_std, "
                         f"got {schemes!r}")
    for scheme in schemes.values():
        init_std(1, 1, scheme)  # raises on an unknown scheme
    return schemes


def _check_xt(x, t, xname, tname):
    if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype not in (np.float32, np.float64):
        desc = (
            f"{type(x).__name__} of shape {x.shape} and dtype {x.dtype}"
            if isinstance(x, np.ndarray) else type(x).__name__
        )
        raise TypeError(
            f"{xname} must be a 2-D float32 or float64 array (N, D) "
            f"(load_mnist(flatten=True)), got {desc}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{xname} must hold at least one sample, got shape {x.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        total = x.sum()  # one pass without a temporary; NaN/inf propagate into the sum
    if not np.isfinite(total) and not np.isfinite(x).all():
        raise ValueError(f"{xname} must be finite, it holds NaN or inf")
    if not isinstance(t, np.ndarray) or t.ndim != 1 or t.dtype.kind not in "iu":
        desc = (
            f"shape {t.shape} and dtype {t.dtype}" if isinstance(t, np.ndarray)
            else type(t).__name__
        )
        raise TypeError(
            f"{tname} must be a 1-D array of integer class labels (load_mnist(one_hot_label="
            f"False)), got {desc}"
        )
    if t.shape[0] != x.shape[0]:
        raise ValueError(
            f"{tname} must have one label per row of {xname}: expected {x.shape[0]}, "
            f"got {t.shape[0]}"
        )
    if t.min() < 0:
        raise ValueError(f"{tname} must hold class labels >= 0, got {t.min()}")


def check_data(x_train, t_train, x_test=None, t_test=None):
    """Validate training (and optional test) arrays; return them with labels as intp.

    x: (N, D) float32/float64, finite; t: (N,) integer labels >= 0. The labels are converted
    to ``np.intp`` (a copy, once) so every run uses the same kernel signature. The test pair
    must be given together, with the same D and dtype as the training data.
    Returns ``(x_train, t_train, x_test, t_test, n_classes)``.
    """
    _check_xt(x_train, t_train, "x_train", "t_train")
    if (x_test is None) != (t_test is None):
        raise ValueError("x_test and t_test must be given together (or neither)")
    n_classes = int(t_train.max()) + 1
    if x_test is not None:
        _check_xt(x_test, t_test, "x_test", "t_test")
        if x_test.shape[1] != x_train.shape[1] or x_test.dtype != x_train.dtype:
            raise ValueError(
                f"x_test must match x_train in features and dtype: expected (*, "
                f"{x_train.shape[1]}) {x_train.dtype}, got {x_test.shape} {x_test.dtype}"
            )
        n_classes = max(n_classes, int(t_test.max()) + 1)
        t_test = t_test.astype(np.intp)
    return x_train, t_train.astype(np.intp), x_test, t_test, n_classes


def one_of(name: str, value, choices) -> str:
    """``value`` unchanged; ValueError naming ``name`` unless it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def fraction(name: str, value) -> float:
    """``value`` as a float in (0, 1] (an accuracy), by :func:`dlkit.validate.number`."""
    return validate.number(name, value, 0.0, 1.0, low_open=True)


def positive_floats(name: str, values) -> list[float]:
    """``values`` as a list of floats; ValueError naming ``name`` unless it is a non-empty
    list of distinct finite numbers > 0."""
    given = values
    values = [] if isinstance(values, (str, bytes)) else list(np.atleast_1d(values).tolist())
    if not values or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 < float(v) < float("inf")
        for v in values
    ):
        raise ValueError(f"{name} must be a non-empty list of positive numbers, got {given!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must be distinct, got {given!r}")
    return [float(v) for v in values]
