"""Parameter updates (Deep Learning from Scratch, 6.1), with the book's defaults.

Each optimizer has ``update(params, grads)``, as the book's ``common/optimizer.py``: it
loops over the keys of ``params`` (``net.params``) and steps each with ``grads[key]``
(``net.gradient(x, t)``), so passing a subset of the parameters freezes the others; every
params array is changed **in place**, so layers holding a reference to it see the new
values. ``grads`` is only read, and may hold more keys than ``params``.

The state is the book's, under the book's names: ``Momentum.v``, ``Nesterov.v``,
``AdaGrad.h``, ``RMSprop.h``, ``Adam.m`` and ``Adam.v`` (and ``Adam.iter``) are ``None``
before the first update, then a dict key -> array like the parameter; setting one back to
``None`` (``opt.v = None``) starts it again from zeros. No array is allocated per step after
the first: the state arrays are updated in place, with one scratch buffer per parameter.
A parameter may also be a plain number (the book's ``optimizer_compare_naive.py`` moves a
point (x, y)): its new value is then stored back into ``params``.  ``lr=0`` is allowed (a
frozen run), and so are the book's limits ``Momentum(momentum=1.0)`` (no friction) and
``RMSprop(decay_rate=1.0)`` (h never changes).

``from dlkit.optimizers import *`` gives the optimizers and ``np``, as the book's
``from common.optimizer import *`` does (``optimizer_compare_mnist.py`` uses that ``np``).

Formulas (W a parameter, ∂L/∂W its gradient, η the learning rate ``lr``):

- SGD:       W ← W − η ∂L/∂W
- Momentum:  v ← αv − η ∂L/∂W ;  W ← W + v
- Nesterov:  W ← W + α²v − (1+α) η ∂L/∂W ;  v ← αv − η ∂L/∂W   (the book's form: the step
             uses v from before its update)
- AdaGrad:   h ← h + ∂L/∂W ⊙ ∂L/∂W ;  W ← W − η ∂L/∂W / (√h + 1e-7)
- RMSprop:   h ← ρh + (1−ρ) ∂L/∂W ⊙ ∂L/∂W ;  W ← W − η ∂L/∂W / (√h + 1e-7)
- Adam:      t ← t+1 ;  m ← m + (1−β1)(∂L/∂W − m) ;  v ← v + (1−β2)(∂L/∂W² − v) ;
             W ← W − η_t m / (√v + 1e-7),  η_t = η √(1−β2ᵗ) / (1−β1ᵗ)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from dlkit import validate
from dlkit.kernels.sgd import sgd_update

# ``np`` too: the book's scripts get numpy from ``from common.optimizer import *``.
__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "np"]

EPS = 1e-7  # the book's guard against division by zero in AdaGrad, RMSprop, Adam


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Optimizer:
    """Base class: checks ``params``/``grads`` and keeps the per-parameter state.

    ``STATE`` names the book's state attributes of a subclass (``("v",)`` for Momentum):
    each is None until the first update, then a dict key -> array like the parameter.
    """

    STATE: tuple[str, ...] = ()

    def __init__(self, lr: float):
        self.lr = validate.number("lr", lr, 0.0)
        for name in self.STATE:
            setattr(self, name, None)
        self._scratch: dict[str, np.ndarray] = {}

    def _state(self, name: str, key: str, p: np.ndarray) -> np.ndarray:
        """The state array ``name`` (e.g. "v") of parameter ``key``: zeros like ``p`` on first
        use, after ``opt.<name> = None``, or when ``p`` changed shape or dtype."""
        table = getattr(self, name)
        if table is None:
            table = {}
            setattr(self, name, table)
        buf = table.get(key)
        if (not isinstance(buf, np.ndarray) or buf.shape != p.shape
                or buf.dtype != p.dtype):
            buf = table[key] = np.zeros_like(p)
        return buf

    def _step_buffer(self, key: str, p: np.ndarray) -> np.ndarray:
        """A scratch array like ``p`` for the arithmetic of one step (no allocation per step)."""
        buf = self._scratch.get(key)
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype:
            buf = self._scratch[key] = np.empty_like(p)
        return buf

    @staticmethod
    def _check(params: dict[str, Any], grads: dict[str, Any]) -> None:
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise TypeError(
                f"params and grads must be dicts of arrays, got {type(params).__name__} "
                f"and {type(grads).__name__}"
            )
        missing = [key for key in params if key not in grads]
        if missing:
            raise ValueError(
                f"grads must have a gradient for every key of params: missing {missing} "
                f"(params has {list(params)}, grads has {list(grads)})"
            )
        for key, p in params.items():
            g = grads[key]
            if (type(p) is np.ndarray and type(g) is np.ndarray and p.shape == g.shape
                    and p.dtype.kind == "f"):
                continue  # the common case, in one test
            if _is_number(p) and (_is_number(g) or (isinstance(g, np.ndarray) and g.size == 1
                                                    and g.dtype.kind in "iuf")):
                continue  # a plain number, as in the book's optimizer_compare_naive.py
            if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray):
                raise TypeError(
                    f"params[{key!r}] and grads[{key!r}] must be numpy arrays, got "
                    f"{type(p).__name__} and {type(g).__name__}"
                )
            if p.shape != g.shape:
                raise ValueError(
                    f"grads[{key!r}] must have the shape of params[{key!r}] {p.shape}, "
                    f"got {g.shape}"
                )
            if p.dtype.kind != "f":
                raise TypeError(f"params[{key!r}] must be a float array, got {p.dtype}")

    def update(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        """One step on every parameter of ``params``: arrays in place, plain numbers stored
        back; ``grads`` may hold more keys (their parameters are not given, so not moved)."""
        self._check(params, grads)
        self._apply(params, grads)

    def _apply(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        for key, p in params.items():
            g = grads[key]
            if isinstance(p, np.ndarray):
                self._step(key, p, g)
            else:  # a plain number: stepped as a one-element array, then stored back
                a = np.array([p], dtype=np.float64)
                self._step(key, a, np.asarray(g, dtype=np.float64).reshape(1))
                params[key] = float(a[0])

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: W ← W − η ∂L/∂W."""

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def _step(self, key, p, g):
        sgd_update(p, g, self.lr)  # p −= lr·g in one pass, without a temporary


class Momentum(Optimizer):
    """Momentum: v ← αv − η ∂L/∂W ; W ← W + v  (v starts at 0, α = ``momentum`` in [0, 1]).

    ``v``: the velocity of each parameter (None before the first update).
    """

    STATE = ("v",)
    v: dict[str, np.ndarray] | None

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = validate.number("momentum", momentum, 0.0, 1.0)

    def _step(self, key, p, g):
        v, step = self._state("v", key, p), self._step_buffer(key, p)
        v *= self.momentum
        np.multiply(g, self.lr, out=step)
        v -= step
        p += v


class Nesterov(Optimizer):
    """Nesterov's accelerated gradient, as the book writes it (Bengio et al. 2012's form).

    W ← W + α²v − (1+α) η ∂L/∂W ;  then  v ← αv − η ∂L/∂W   (v starts at 0, α in [0, 1])

    ``v``: the velocity of each parameter (None before the first update).
    """

    STATE = ("v",)
    v: dict[str, np.ndarray] | None

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = validate.number("momentum", momentum, 0.0, 1.0)

    def _step(self, key, p, g):
        v, step = self._state("v", key, p), self._step_buffer(key, p)
        a = self.momentum
        np.multiply(v, a * a, out=step)
        p += step
        np.multiply(g, (1.0 + a) * self.lr, out=step)
        p -= step
        v *= a
        np.multiply(g, self.lr, out=step)
        v -= step


class AdaGrad(Optimizer):
    """AdaGrad: h ← h + ∂L/∂W ⊙ ∂L/∂W ;  W ← W − η ∂L/∂W / (√h + 1e-7).

    ``h``: the sum of squared gradients of each parameter (None before the first update).
    """

    STATE = ("h",)
    h: dict[str, np.ndarray] | None

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def _step(self, key, p, g):
        h, step = self._state("h", key, p), self._step_buffer(key, p)
        np.multiply(g, g, out=step)
        h += step
        _scaled_step(p, g, h, self.lr, step)


class RMSprop(Optimizer):
    """RMSprop: h ← ρh + (1−ρ) ∂L/∂W ⊙ ∂L/∂W ;  W ← W − η ∂L/∂W / (√h + 1e-7), ρ = decay_rate
    in [0, 1].

    ``h``: the moving average of squared gradients of each parameter (None before the first
    update).
    """

    STATE = ("h",)
    h: dict[str, np.ndarray] | None

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99):
        super().__init__(lr)
        self.decay_rate = validate.number("decay_rate", decay_rate, 0.0, 1.0)

    def _step(self, key, p, g):
        h, step = self._state("h", key, p), self._step_buffer(key, p)
        h *= self.decay_rate
        np.multiply(g, g, out=step)
        step *= 1.0 - self.decay_rate
        h += step
        _scaled_step(p, g, h, self.lr, step)


class Adam(Optimizer):
    """Adam (Kingma & Ba), the book's form with the bias correction folded into η_t.

    t ← t+1 ;  η_t = η √(1−β2ᵗ) / (1−β1ᵗ)
    m ← m + (1−β1)(∂L/∂W − m) ;  v ← v + (1−β2)(∂L/∂W ⊙ ∂L/∂W − v)
    W ← W − η_t m / (√v + 1e-7)

    ``m``, ``v``: the moving averages of each parameter's gradient and squared gradient (None
    before the first update); ``iter``: t, the updates so far.
    """

    STATE = ("m", "v")
    m: dict[str, np.ndarray] | None
    v: dict[str, np.ndarray] | None

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        super().__init__(lr)
        self.beta1 = validate.fraction("beta1", beta1)
        self.beta2 = validate.fraction("beta2", beta2)
        self.iter = 0
        self._lr_t = 0.0

    def update(self, params: dict[str, Any], grads: dict[str, Any]) -> None:
        self._check(params, grads)
        self.iter += 1
        t = self.iter
        self._lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        self._apply(params, grads)

    def _step(self, key, p, g):
        m, v = self._state("m", key, p), self._state("v", key, p)
        step = self._step_buffer(key, p)
        np.subtract(g, m, out=step)
        step *= 1.0 - self.beta1
        m += step
        np.multiply(g, g, out=step)
        step -= v
        step *= 1.0 - self.beta2
        v += step
        _scaled_step(p, m, v, self._lr_t, step)


def _scaled_step(p, num, h, lr, step):
    """p ← p − lr · num / (√h + 1e-7), through the scratch buffer ``step``."""
    np.sqrt(h, out=step)
    step += EPS
    np.divide(num, step, out=step)
    step *= lr
    p -= step
