"""argparse value types shared by the ``dlkit`` sub-commands: clear errors for bad numbers.

The rules are :mod:`dlkit.validate`'s; here they only read the text of the command line and
say "expected ..., got ..." the way argparse reports a bad value.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from dlkit import validate


def _parsed(text: str, convert: Callable[[str], Any], check: Callable[[str, Any], Any],
            expected: str) -> Any:
    """``text`` read by ``convert`` (int or float) and checked by a dlkit.validate rule."""
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    try:
        return check("value", value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}") from None


def positive_int(text: str) -> int:
    """An integer ≥ 1 (a number of steps, epochs, iterations)."""
    return _parsed(text, int, validate.positive_int, "a positive integer")


def seed(text: str) -> int:
    """An integer seed ≥ 0 for ``numpy.random.default_rng``."""
    return _parsed(text, int, validate.nonnegative_int, "an integer seed >= 0")


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate)."""
    return _parsed(text, float, validate.positive_number, "a positive number")


def fraction(text: str) -> float:
    """A number in (0, 1] (an accuracy to reach)."""
    return _parsed(text, float,
                   lambda name, x: validate.number(name, x, 0.0, 1.0, low_open=True),
                   "a number in (0, 1]")
