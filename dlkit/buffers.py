"""Output arrays that are the caller's to keep, without an allocation per call.

The book's layers return a new array from every ``forward`` and ``backward`` and store new
gradient arrays (``dW``, ``dgamma``, ...): whatever a caller keeps stays as it was.  dlkit
keeps exactly that promise, and still lets a training loop run without allocating: an
object keeps the array it handed out last, and ``reuse`` writes the next result into it
only when **no one else refers to it any more** (CPython counts the references to every
object).  A caller who kept the array (in a variable, a list, a dict of gradients, through a
view of it) gets a new one; a caller who let it go - the usual training loop - gets the
same memory back, untouched by anyone.

Every call site passes the owner's attribute itself, ``st.out = reuse(st.out, shape,
dtype)``, so that the owner's reference is the only one ``reuse`` expects; an owner that
knows of more references of its own (the network, whose activation arrays its layers also
keep) says how many with ``holders``.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["reuse"]


def _count(a: Any, shape: Any = None, dtype: Any = None, holders: int = 1) -> int:
    """The reference count of ``a`` as seen inside a function called like ``reuse``."""
    return sys.getrefcount(a)


class _Owner:
    __slots__ = ("a",)
    a: np.ndarray


def _references_of_an_owned_array() -> int:
    owner = _Owner()
    owner.a = np.empty(0)
    return _count(owner.a, None, None)


# The count of an array that only its owner's attribute refers to, when it is passed as
# ``reuse(owner.a, ...)``: measured rather than assumed, since interpreters count the
# references of arguments and locals differently.
_OWNED = _references_of_an_owned_array()


def reuse(a: np.ndarray | None, shape: tuple[int, ...], dtype: Any,
          holders: int = 1) -> np.ndarray:
    """``a`` if it has this shape and dtype and nothing but its owner's ``holders``
    references refer to it, else a new (uninitialised) array of that shape and dtype."""
    if (a is not None and a.shape == shape and a.dtype == dtype
            and sys.getrefcount(a) <= _OWNED + holders - 1):
        return a
    return np.empty(shape, dtype=dtype)
