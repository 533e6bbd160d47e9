"""Output arrays that are the caller's to keep, without an allocation per call.

The book's layers return a new array from every ``forward`` and ``backward`` and store new
gradient arrays (``dW``, ``dgamma``, ...): whatever a caller keeps stays as it was.  dlkit
keeps exactly that promise, and still lets a training loop run without allocating: an
object keeps the array it handed out last, and ``reuse`` writes the next result into it
only when **no one else refers to it any more** (CPython counts the references to every
object).  A caller who kept the array (in a variable, a list, a dict of gradients, through a
view of it) gets a new one; a caller who let it go - the usual training loop - gets the
same memory back, untouched by anyone.

``take(owner, name, shape, dtype)`` does this for an owner's attribute (a layer's state:
``dW``, ``xn``, the output handed out), keeping one spare per name; ``reuse(a, shape,
dtype, holders)`` for an array of which the owner knows ``holders`` references of its own
(the network's activations, which its layers keep too).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["OWNED_LOCAL", "Owner", "reuse", "take"]


def _count(a: Any, shape: Any = None, dtype: Any = None, holders: int = 1) -> int:
    """The reference count of ``a`` as seen inside a function called like ``reuse``."""
    return sys.getrefcount(a)


class _Owner:
    __slots__ = ("a",)
    a: np.ndarray


def _counts() -> tuple[int, int]:
    """The reference counts of an array that only its owner's attribute refers to: passed as
    ``reuse(owner.a, ...)``, and read into a local variable as ``take`` does."""
    owner = _Owner()
    owner.a = np.empty(0)
    passed = _count(owner.a, None, None)
    a = owner.a
    return passed, sys.getrefcount(a)



# Measured rather than assumed: interpreters count the references of arguments and locals
# differently (and may change how).
_refs = sys.getrefcount
_OWNED, _OWNED_LOCAL = _counts()
#: ``sys.getrefcount(a)`` of an array that only its owner's attribute and one local variable
#: refer to (``a = owner.a``): for owners that check several arrays at once, without a call.
OWNED_LOCAL = _OWNED_LOCAL


class Owner:
    """A plain owner of arrays handed out with ``take`` (one attribute per name, None until
    the first ``take``)."""

    def __init__(self) -> None:
        self.spares: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> None:  # only called for names not set yet
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def take(owner: Any, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """The array to write ``owner.<name>``'s next value into, stored as ``owner.<name>``.

    The array given out last under that name if nobody else holds it; else the one before
    it (kept in ``owner.spares``) if nobody holds that any more - the usual loop
    ``grads = net.gradient(...)`` still holds the last step's arrays while it asks for the
    next ones; else a new array.  An array someone holds is never written.
    """
    a = getattr(owner, name)
    if a is not None and a.shape == shape and a.dtype == dtype and _refs(a) <= _OWNED_LOCAL:
        return a
    spares = owner.spares
    b = spares.get(name)
    if b is None or b.shape != shape or b.dtype != dtype or _refs(b) > _OWNED_LOCAL:
        b = np.empty(shape, dtype)
    if a is not None:
        spares[name] = a  # for a later call, once nobody holds it
    setattr(owner, name, b)
    return b


def reuse(a: np.ndarray | None, shape: tuple[int, ...], dtype: Any,
          holders: int = 1) -> np.ndarray:
    """``a`` if it has this shape and dtype and nothing but its owner's ``holders``
    references refer to it, else a new (uninitialised) array of that shape and dtype."""
    if (a is not None and a.shape == shape and a.dtype == dtype
            and sys.getrefcount(a) <= _OWNED + holders - 1):
        return a
    return np.empty(shape, dtype=dtype)
