"""dlkit.buffers: an array handed out is written again only once nobody else holds it."""

import sys

import numpy as np

from dlkit.buffers import OWNED_LOCAL, Owner, reuse, take


def _address(a):
    return a.__array_interface__["data"][0]


def test_take_reuses_a_dropped_array_and_never_a_held_one():
    owner = Owner()
    first = take(owner, "a", (3,), np.float64)
    assert owner.a is first
    address = _address(first)
    del first
    assert _address(take(owner, "a", (3,), np.float64)) == address  # dropped: reused
    held = take(owner, "a", (3,), np.float64)
    held[:] = 7.0
    other = take(owner, "a", (3,), np.float64)  # `held` is someone's: not this one
    assert other is not held and owner.a is other
    other[:] = 1.0
    np.testing.assert_array_equal(held, 7.0)
    view = other[1:]  # a view holds its base too
    del other, held
    take(owner, "a", (3,), np.float64)[:] = 5.0  # the spare, `held`'s array, now unheld
    np.testing.assert_array_equal(view, 1.0)


def test_take_alternates_two_arrays_in_the_books_loop():
    """grads = net.gradient(...) keeps the previous step's array while the next one is made:
    the spare takes its turn, so two arrays serve the whole loop."""
    owner, seen = Owner(), set()
    grads = None
    for step in range(6):
        grads = take(owner, "dW", (4, 2), np.float64)
        grads[:] = step
        seen.add(_address(grads))
    assert len(seen) == 2
    history = [take(owner, "dW", (4, 2), np.float64) for _ in range(3)]  # all kept: all new
    assert len({id(h) for h in history}) == 3


def test_take_gives_a_new_array_for_a_new_shape_or_dtype():
    owner = Owner()
    a = take(owner, "x", (2, 2), np.float64)
    del a
    assert take(owner, "x", (3, 2), np.float64).shape == (3, 2)
    assert take(owner, "x", (3, 2), np.float32).dtype == np.float32


def test_reuse_counts_the_owners_own_references():
    # (no call inside an assert statement: pytest keeps its sub-expressions alive there)
    acts = {"h": np.zeros(4)}
    layer_input = acts["h"]  # a layer of the network keeps it as its input
    again = reuse(acts["h"], (4,), np.float64, holders=2)
    assert again is layer_input
    user = layer_input  # someone else holds it too: a new array
    other = reuse(acts["h"], (4,), np.float64, holders=2)
    assert other is not user



def test_owned_local_tells_whether_anyone_but_the_owner_holds_an_array():
    owner = Owner()
    take(owner, "a", (2,), np.float64)
    a = owner.a
    free = sys.getrefcount(a) <= OWNED_LOCAL
    kept = owner.a
    now = sys.getrefcount(a) <= OWNED_LOCAL
    assert free and not now
    del kept
