"""argparse value types shared by the ``dlkit`` sub-commands: clear errors for bad numbers.

The rules are :mod:`dlkit.validate`'s; here they only read the text of the command line and
say "expected ..., got ..." the way argparse reports a bad value.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dlkit import validate


def _integer(text: str, check: Callable[[str, int], int], expected: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    try:
        return check("value", n)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {n}") from None


def positive_int(text: str) -> int:
    """An integer ≥ 1 (a number of steps, epochs, iterations)."""
    return _integer(text, validate.positive_int, "a positive integer")


def seed(text: str) -> int:
    """An integer seed ≥ 0 for ``numpy.random.default_rng``."""
    return _integer(text, validate.nonnegative_int, "an integer seed >= 0")


def _number(text: str, check: Callable[[str, float], float], expected: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    try:
        return check("value", x)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text}") from None


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate)."""
    return _number(text, validate.positive_number, "a positive number")


def fraction(text: str) -> float:
    """A number in (0, 1] (an accuracy to reach)."""
    return _number(text, lambda name, x: validate.number(name, x, 0.0, 1.0, low_open=True),
                   "a number in (0, 1]")
