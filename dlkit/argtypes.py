"""argparse value types shared by the ``dlkit`` sub-commands: clear errors for bad numbers."""

from __future__ import annotations

import argparse


def _integer(text: str, minimum: int, expected: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if n < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {n}")
    return n


def positive_int(text: str) -> int:
    """An integer ≥ 1 (a number of steps, epochs, iterations)."""
    return _integer(text, 1, "a positive integer")


def seed(text: str) -> int:
    """An integer seed ≥ 0 for ``numpy.random.default_rng``."""
    return _integer(text, 0, "an integer seed >= 0")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a learning rate)."""
    value = _number(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def fraction(text: str) -> float:
    """A number in (0, 1] (an accuracy to reach)."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text}")
    return value
