"""dlkit.optimizers: the book's update formulas, in place, without per-step allocation."""

import math
import tracemalloc

import numpy as np
import pytest

from dlkit.optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop


class BookOptimizer:
    """The update formulas of the book's common/optimizer.py, restated plainly (allocating,
    state kept in dicts), as the oracle."""

    def __init__(self, kind, **hp):
        self.kind, self.hp, self.state, self.iter = kind, hp, {}, 0

    def update(self, params, grads):
        hp, s = self.hp, self.state
        self.iter += 1
        for key in params:
            g = grads[key]
            lr = hp["lr"]
            if self.kind == "SGD":
                params[key] -= lr * g
            elif self.kind == "Momentum":
                s.setdefault(key, np.zeros_like(g))
                s[key] = hp["momentum"] * s[key] - lr * g
                params[key] += s[key]
            elif self.kind == "Nesterov":  # the step uses v from before its update
                mu, v = hp["momentum"], s.get(key, np.zeros_like(g))
                params[key] += mu * mu * v - (1 + mu) * lr * g
                s[key] = mu * v - lr * g
            elif self.kind == "AdaGrad":
                h = s.setdefault(key, np.zeros_like(g))
                h += g * g
                params[key] -= lr * g / (np.sqrt(h) + 1e-7)
            elif self.kind == "RMSprop":
                h = s.setdefault(key, np.zeros_like(g))
                h *= hp["decay_rate"]
                h += (1 - hp["decay_rate"]) * g * g
                params[key] -= lr * g / (np.sqrt(h) + 1e-7)
            elif self.kind == "Adam":
                m, v = s.setdefault(key, [np.zeros_like(g), np.zeros_like(g)])
                b1, b2, t = hp["beta1"], hp["beta2"], self.iter
                lr_t = lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
                m += (1 - b1) * (g - m)
                v += (1 - b2) * (g**2 - v)
                params[key] -= lr_t * m / (np.sqrt(v) + 1e-7)


CASES = [
    (SGD, "SGD", {"lr": 0.1}),
    (Momentum, "Momentum", {"lr": 0.1, "momentum": 0.8}),
    (Nesterov, "Nesterov", {"lr": 0.1, "momentum": 0.7}),
    (AdaGrad, "AdaGrad", {"lr": 0.1}),
    (RMSprop, "RMSprop", {"lr": 0.1, "decay_rate": 0.9}),
    (Adam, "Adam", {"lr": 0.1, "beta1": 0.8, "beta2": 0.95}),
]


def _params(rng):
    return {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(3)}


@pytest.mark.parametrize("cls, kind, hp", CASES, ids=[c[1] for c in CASES])
def test_matches_the_book_over_several_steps_and_updates_in_place(cls, kind, hp):
    rng = np.random.default_rng(0)
    params = _params(rng)
    book_params = {k: v.copy() for k, v in params.items()}
    ids = {k: id(v) for k, v in params.items()}
    views = dict(params)  # what a layer holding a reference would see
    opt, book = cls(**hp), BookOptimizer(kind, **hp)
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        grads_before = {k: v.copy() for k, v in grads.items()}
        opt.update(params, grads)
        book.update(book_params, grads)
        for k in params:
            np.testing.assert_allclose(params[k], book_params[k], rtol=1e-12, atol=1e-14)
            assert np.array_equal(grads[k], grads_before[k])  # grads are only read
    assert {k: id(v) for k, v in params.items()} == ids
    assert all(views[k] is params[k] for k in params)


def test_first_steps_by_hand():
    """One scalar parameter, the formulas evaluated by hand."""
    g1, g2 = 2.0, -1.0

    def run(opt):
        p = {"w": np.array([1.0])}
        out = []
        for g in (g1, g2):
            opt.update(p, {"w": np.array([g])})
            out.append(p["w"][0])
        return out

    assert run(SGD(lr=0.1)) == pytest.approx([1 - 0.2, 1 - 0.2 + 0.1])
    # Momentum: v1 = -0.2, w1 = 0.8; v2 = 0.9*-0.2 + 0.1 = -0.08, w2 = 0.72
    assert run(Momentum(lr=0.1, momentum=0.9)) == pytest.approx([0.8, 0.72])
    # Nesterov (the book's: the step uses v before its update):
    #   w1 = 1 + 0.81*0 - 1.9*0.1*2 = 0.62,   v1 = -0.2
    #   w2 = 0.62 + 0.81*-0.2 + 1.9*0.1*1 = 0.648,   v2 = 0.9*-0.2 + 0.1 = -0.08
    assert run(Nesterov(lr=0.1, momentum=0.9)) == pytest.approx([0.62, 0.648])
    # AdaGrad: h1 = 4, w1 = 1 - 0.1*2/(2+1e-7); h2 = 5, w2 = w1 + 0.1/(sqrt 5 + 1e-7)
    w1 = 1 - 0.2 / (2 + 1e-7)
    assert run(AdaGrad(lr=0.1)) == pytest.approx([w1, w1 + 0.1 / (math.sqrt(5) + 1e-7)])
    # RMSprop rho=0.5: h1 = 2, w1 = 1 - 0.2/sqrt2 ; h2 = 1 + 0.5 = 1.5
    w1 = 1 - 0.2 / (math.sqrt(2) + 1e-7)
    assert run(RMSprop(lr=0.1, decay_rate=0.5)) == pytest.approx(
        [w1, w1 + 0.1 / (math.sqrt(1.5) + 1e-7)]
    )
    # Adam's first step moves by ~lr*sign(g) whatever the size of g (bias correction)
    (w1, _) = run(Adam(lr=0.1))
    assert w1 == pytest.approx(1 - 0.1, rel=1e-6)


@pytest.mark.parametrize("cls, kind, hp", CASES, ids=[c[1] for c in CASES])
def test_no_allocation_per_step_after_the_first(cls, kind, hp):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((300, 200)), "b": rng.standard_normal(200)}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    opt = cls(**hp)
    opt.update(params, grads)  # first step: buffers are made
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.update(params, grads)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 * 8, f"{kind} allocated {peak} bytes per step"  # less than b's size


def test_float32_params_stay_float32():
    p = {"W": np.ones((2, 2), dtype=np.float32)}
    Adam().update(p, {"W": np.ones((2, 2), dtype=np.float32)})
    assert p["W"].dtype == np.float32 and np.all(p["W"] < 1)


def test_nesterov_takes_the_books_steps():
    """lr 0.1, momentum 0.9, gradient 1 at every step: the book's weight goes
    1 → 0.81 → 0.539 (its step uses v before v is updated)."""
    p = {"w": np.array([1.0])}
    opt = Nesterov(lr=0.1, momentum=0.9)
    path = []
    for _ in range(2):
        opt.update(p, {"w": np.array([1.0])})
        path.append(p["w"][0])
    assert path == pytest.approx([0.81, 0.539], rel=1e-12)


@pytest.mark.parametrize("cls, kind, hp", CASES, ids=[c[1] for c in CASES])
def test_lr_zero_is_a_frozen_run(cls, kind, hp):
    rng = np.random.default_rng(1)
    params = _params(rng)
    before = {k: v.copy() for k, v in params.items()}
    opt = cls(**dict(hp, lr=0))
    for _ in range(3):
        opt.update(params, {k: rng.standard_normal(v.shape) for k, v in params.items()})
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])


def _f_df(x, y):
    """The book's optimizer_compare_naive.py surface: f = x²/20 + y², and its gradient."""
    return x**2 / 20.0 + y**2, (x / 10.0, 2.0 * y)


@pytest.mark.parametrize("cls, kind, hp", [
    (SGD, "SGD", {"lr": 0.95}), (Momentum, "Momentum", {"lr": 0.1, "momentum": 0.9}),
    (Nesterov, "Nesterov", {"lr": 0.1, "momentum": 0.9}), (AdaGrad, "AdaGrad", {"lr": 1.5}),
    (RMSprop, "RMSprop", {"lr": 0.1, "decay_rate": 0.99}),
    (Adam, "Adam", {"lr": 0.3, "beta1": 0.9, "beta2": 0.999}),
], ids=["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"])
def test_plain_number_parameters_as_in_the_books_naive_comparison(cls, kind, hp):
    """params {'x': -7.0, 'y': 2.0} as plain floats, 30 steps from the book's start point:
    the same path as the formulas, stored back as floats, ending nearer the minimum (0, 0)."""
    params, book = {"x": -7.0, "y": 2.0}, {"x": np.array(-7.0), "y": np.array(2.0)}
    opt, oracle = cls(**hp), BookOptimizer(kind, **hp)
    for _ in range(30):
        gx, gy = _f_df(params["x"], params["y"])[1]
        opt.update(params, {"x": gx, "y": gy})
        bx, by = _f_df(float(book["x"]), float(book["y"]))[1]
        oracle.update(book, {"x": np.array(bx), "y": np.array(by)})
        assert type(params["x"]) is float and type(params["y"]) is float
        assert params["x"] == pytest.approx(float(book["x"]), rel=1e-12, abs=1e-12)
        assert params["y"] == pytest.approx(float(book["y"]), rel=1e-12, abs=1e-12)
    assert _f_df(params["x"], params["y"])[0] < _f_df(-7.0, 2.0)[0]


def test_bad_hyper_parameters():
    with pytest.raises(ValueError, match=r"lr must be a number >= 0, got -0.1"):
        SGD(lr=-0.1)
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\], got 1.5"):
        Momentum(momentum=1.5)
    with pytest.raises(ValueError, match=r"decay_rate must be a number in \[0, 1\], got -0.1"):
        RMSprop(decay_rate=-0.1)
    with pytest.raises(ValueError, match=r"beta1 must be a number in \[0, 1\), got 1.0"):
        Adam(beta1=1.0)  # η_t would divide by 1 − β1ᵗ = 0
    with pytest.raises(TypeError, match="decay_rate must be a number, got str"):
        RMSprop(decay_rate="0.9")


@pytest.mark.parametrize("cls, kind, hp", [
    (Momentum, "Momentum", {"lr": 0.1, "momentum": 1.0}),
    (Nesterov, "Nesterov", {"lr": 0.1, "momentum": 1.0}),
    (RMSprop, "RMSprop", {"lr": 0.1, "decay_rate": 1.0}),
    (RMSprop, "RMSprop", {"lr": 0.1, "decay_rate": 0.0}),
], ids=["Momentum-1", "Nesterov-1", "RMSprop-1", "RMSprop-0"])
def test_the_books_limits_of_the_hyper_parameters_are_accepted(cls, kind, hp):
    """momentum = 1 (no friction: v sums every step) and decay_rate = 1 (h stays 0, so each
    step is lr·g/1e-7) are accepted, as the book's classes accept them, with its numbers."""
    rng = np.random.default_rng(2)
    params = _params(rng)
    book_params = {k: v.copy() for k, v in params.items()}
    opt, book = cls(**hp), BookOptimizer(kind, **hp)
    for _ in range(4):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        opt.update(params, grads)
        book.update(book_params, grads)
    for k in params:
        np.testing.assert_allclose(params[k], book_params[k], rtol=1e-12, atol=1e-14)


STATE = {"Momentum": ("v",), "Nesterov": ("v",), "AdaGrad": ("h",), "RMSprop": ("h",),
         "Adam": ("m", "v"), "SGD": ()}


@pytest.mark.parametrize("cls, kind, hp", CASES, ids=[c[1] for c in CASES])
def test_the_state_is_shown_under_the_books_names_and_reset_by_none(cls, kind, hp):
    rng = np.random.default_rng(3)
    params = _params(rng)
    opt, book = cls(**hp), BookOptimizer(kind, **hp)
    book_params = {k: v.copy() for k, v in params.items()}
    names = STATE[kind]
    for name in names:
        assert getattr(opt, name) is None  # the book's: None until the first update
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    opt.update(params, grads)
    book.update(book_params, grads)
    for i, name in enumerate(names):
        state = getattr(opt, name)
        assert list(state) == list(params)
        for k in params:
            expected = book.state[k][i] if kind == "Adam" else book.state[k]
            np.testing.assert_allclose(state[k], expected, rtol=1e-12, atol=1e-15)
    if not names:
        return
    # opt.v = None (the book's reset): the next step starts that state from zeros again
    for name in names:
        setattr(opt, name, None)
    fresh = cls(**hp)
    if kind == "Adam":
        fresh.iter = opt.iter  # the book's reset leaves the step count t as it is
    before = {k: v.copy() for k, v in params.items()}
    opt.update(params, grads)
    fresh.update(before, grads)
    for k in params:
        np.testing.assert_allclose(params[k], before[k], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cls, kind, hp", CASES, ids=[c[1] for c in CASES])
def test_a_subset_of_params_is_updated_and_the_rest_frozen(cls, kind, hp):
    """The book loops over params' keys: pass some of them to move only those."""
    rng = np.random.default_rng(4)
    params = _params(rng)
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    b_before = params["b1"].copy()
    book_w = {"W1": params["W1"].copy()}
    opt, book = cls(**hp), BookOptimizer(kind, **hp)
    for _ in range(3):
        opt.update({"W1": params["W1"]}, grads)  # grads has b1 too: not moved
        book.update(book_w, grads)
    np.testing.assert_allclose(params["W1"], book_w["W1"], rtol=1e-12, atol=1e-14)
    assert np.array_equal(params["b1"], b_before)
    for name in STATE[kind]:
        assert list(getattr(opt, name)) == ["W1"]


def test_star_import_gives_np_and_the_optimizers_as_the_books_module():
    namespace: dict = {}
    exec("from dlkit.optimizers import *", namespace)
    assert namespace["np"] is np
    assert {"SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"} <= set(namespace)


def test_bad_params_and_grads_are_named():
    p = {"W1": np.zeros((2, 3)), "b1": np.zeros(3)}
    with pytest.raises(ValueError, match=r"every key of params: missing \['b1'\] \(params "
                                         r"has \['W1', 'b1'\], grads has \['W1'\]\)"):
        SGD().update(p, {"W1": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"grads\['b1'\].*shape.*\(3,\), got \(2,\)"):
        SGD().update(p, {"W1": np.zeros((2, 3)), "b1": np.zeros(2)})
    with pytest.raises(TypeError, match=r"grads\['b1'\].*numpy arrays, got ndarray and list"):
        SGD().update(p, {"W1": np.zeros((2, 3)), "b1": [0, 0, 0]})
    with pytest.raises(TypeError, match=r"params\['W'\] must be a float array, got int64"):
        SGD().update({"W": np.zeros(2, dtype=np.int64)}, {"W": np.zeros(2)})
    assert np.array_equal(p["W1"], np.zeros((2, 3)))  # nothing half-updated
