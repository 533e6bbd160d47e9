"""Checks of public arguments, shared by all of dlkit: one validator per kind of argument.

Each validator returns the value in its canonical form or raises, with a message that names
the argument, what was expected and what was given:

- ``TypeError`` when the value is of the wrong kind (a str where a number belongs, a bool
  where a count belongs, a list where an array belongs, an integer array where floats belong);
- ``ValueError`` when it is of the right kind but not an allowed value (0 layers, a negative
  learning rate, a label outside the classes, an array of the wrong shape).

``where`` (optional) prefixes the message with the function or method that was called.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "FLOAT_DTYPES",
    "compute_dtype",
    "float_array",
    "float_dtype",
    "input_array",
    "fraction",
    "labels",
    "nonnegative_int",
    "number",
    "positive_int",
    "positive_number",
]

#: The dtypes dlkit computes in (its Numba kernels are compiled for these two).
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def positive_int(name: str, value: Any, where: str = "") -> int:
    """``value`` as an int >= 1 (a size, a count); a bool is not a count."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_prefix(where)}{name} must be a positive int, got "
                        f"{type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{_prefix(where)}{name} must be a positive int, got {value!r}")
    return int(value)


def nonnegative_int(name: str, value: Any, where: str = "") -> int:
    """``value`` as an int >= 0 (a seed, an index); a bool is not a number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{_prefix(where)}{name} must be an int >= 0, got "
                        f"{type(value).__name__} {value!r}")
    if value < 0:
        raise ValueError(f"{_prefix(where)}{name} must be an int >= 0, got {value!r}")
    return int(value)


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if high == math.inf:
        if low == 0.0 and low_open:
            return "a positive number"
        return f"a number {'>' if low_open else '>='} {low:g}"
    return (f"a number in {'(' if low_open else '['}{low:g}, {high:g}"
            f"{')' if high_open else ']'}")


def number(name: str, value: Any, low: float = -math.inf, high: float = math.inf, *,
           low_open: bool = False, high_open: bool = False, where: str = "") -> float:
    """``value`` as a finite float in the interval from ``low`` to ``high`` (each end closed
    unless ``low_open``/``high_open``); a bool is not a number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_prefix(where)}{name} must be a number, got "
                        f"{type(value).__name__} {value!r}")
    x = float(value)
    inside = (math.isfinite(x) and (x > low if low_open else x >= low)
              and (x < high if high_open else x <= high))
    if not inside:
        raise ValueError(f"{_prefix(where)}{name} must be "
                         f"{_interval(low, high, low_open, high_open)}, got {value!r}")
    return x


def positive_number(name: str, value: Any, where: str = "") -> float:
    """``value`` as a finite float > 0 (a learning rate of an experiment, an eps)."""
    return number(name, value, 0.0, low_open=True, where=where)


def fraction(name: str, value: Any, where: str = "") -> float:
    """``value`` as a float in [0, 1) (a dropout ratio, a momentum, a decay rate)."""
    return number(name, value, 0.0, 1.0, high_open=True, where=where)


def float_dtype(name: str, dtype: Any, where: str = "") -> np.dtype:
    """``dtype`` as a NumPy dtype, float32 or float64 (what dlkit computes in)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{_prefix(where)}{name} must be float32 or float64, got "
                        f"{dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{_prefix(where)}{name} must be float32 or float64, got {dt}")
    return dt


def float_array(name: str, a: Any, where: str = "") -> np.ndarray:
    """``a`` itself, after checking that it is a NumPy array of floats."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{_prefix(where)}{name} must be a numpy.ndarray of floats, got "
                        f"{type(a).__name__}")
    if a.dtype.kind != "f":
        hint = " (pixels: divide by 255.0 first)" if a.dtype.kind in "ui" else ""
        raise TypeError(f"{_prefix(where)}{name} must have a float dtype (float32 or "
                        f"float64), got {a.dtype}{hint}")
    return a


def input_array(name: str, a: Any, where: str = "") -> np.ndarray:
    """``a`` itself, after checking that it is a NumPy array of floats or integers: the data
    a network takes (the book's loader gives float32 images, uint8 ones with
    ``normalize=False``), to be promoted by :func:`compute_dtype`."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{_prefix(where)}{name} must be a numpy.ndarray of numbers, got "
                        f"{type(a).__name__}")
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{_prefix(where)}{name} must have a float or integer dtype (e.g. "
                        f"float32, float64, uint8), got {a.dtype}")
    return a


def compute_dtype(name: str, given: np.dtype, dtype: np.dtype, where: str = "") -> np.dtype:
    """The dtype that an array of dtype ``given`` is computed in by something that computes in
    ``dtype``: ``dtype`` itself when NumPy would promote ``given`` to it (float16 or float32
    into float64; uint8 images into float32 or float64), never a narrower one.

    TypeError when ``given`` is wider than ``dtype`` (float64 data into float32 parameters,
    int64 into float32): converting would silently lose precision, so the caller must
    decide.
    """
    if given == dtype or np.can_cast(given, dtype, casting="safe"):
        return dtype
    raise TypeError(
        f"{_prefix(where)}{name} has dtype {given}, wider than the {dtype} this computes "
        f"in; converting would lose precision: pass {name}.astype(np.{dtype}) or use "
        f"{given} parameters"
    )


def labels(t: Any, n: int, n_classes: int, where: str = "") -> np.ndarray:
    """``t`` itself, after checking it holds the labels of n samples among n_classes classes:
    integer labels (n,) in [0, n_classes), or one-hot (or soft) rows (n, n_classes).

    NaN/inf in one-hot rows are left for the caller's finite check, if it has one.
    """
    from dlkit.kernels.checks import labels_in_range

    p, C = _prefix(where), n_classes
    if not isinstance(t, np.ndarray):
        raise TypeError(f"{p}t must be a numpy.ndarray of integer labels ({n},) or one-hot "
                        f"({n}, {C}), got {type(t).__name__}")
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            raise TypeError(f"{p}t as class labels of shape ({n},) must have an integer "
                            f"dtype, got {t.dtype}")
        if t.shape[0] != n:
            raise ValueError(f"{p}t must have shape ({n},) to match x, got {t.shape}")
        if not labels_in_range(t, C):
            lo, hi = int(t.min()), int(t.max())
            raise ValueError(f"{p}t labels must be in [0, {C - 1}] for {C} classes, got "
                             f"values in [{lo}, {hi}]")
    elif t.ndim == 2:
        if t.shape != (n, C):
            raise ValueError(f"{p}t as one-hot labels must have shape ({n}, {C}) to match x, "
                             f"got {t.shape}")
        if t.dtype.kind not in "biuf":
            raise TypeError(f"{p}t as one-hot labels must be numeric, got dtype {t.dtype}")
    else:
        raise ValueError(f"{p}t must be labels of shape ({n},) or one-hot of shape ({n}, {C}), "
                         f"got {t.shape}")
    return t
