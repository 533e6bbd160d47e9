"""Parameter updates (Deep Learning from Scratch, 6.1), with the book's defaults.

Each optimizer has ``update(params, grads)``: ``params`` and ``grads`` are dicts of arrays
with the same keys and shapes (``net.params`` and ``net.gradient(x, t)``); every params
array is changed **in place**, so layers holding a reference to it see the new values.
No array is allocated per step after the first: the optimizer keeps its state (v, h, m)
and one scratch buffer per parameter and computes with ``out=``. ``grads`` is only read.

Formulas (W a parameter, ∂L/∂W its gradient, η the learning rate ``lr``):

- SGD:       W ← W − η ∂L/∂W
- Momentum:  v ← αv − η ∂L/∂W ;  W ← W + v
- Nesterov:  v ← αv − η ∂L/∂W ;  W ← W + α²v − (1+α) η ∂L/∂W   (the book's form)
- AdaGrad:   h ← h + ∂L/∂W ⊙ ∂L/∂W ;  W ← W − η ∂L/∂W / (√h + 1e-7)
- RMSprop:   h ← ρh + (1−ρ) ∂L/∂W ⊙ ∂L/∂W ;  W ← W − η ∂L/∂W / (√h + 1e-7)
- Adam:      t ← t+1 ;  m ← m + (1−β1)(∂L/∂W − m) ;  v ← v + (1−β2)(∂L/∂W² − v) ;
             W ← W − η_t m / (√v + 1e-7),  η_t = η √(1−β2ᵗ) / (1−β1ᵗ)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from dlkit.kernels.sgd import sgd_update

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]

EPS = 1e-7  # the book's guard against division by zero in AdaGrad, RMSprop, Adam


def _hyper(name: str, value, low: float, high: float, low_open: bool = False) -> float:
    """A hyper-parameter checked to lie in [low, high) (or (low, high) when low_open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    ok = math.isfinite(value) and value < high and (value > low if low_open else value >= low)
    if not ok:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}), got {value!r}")
    return value


class Optimizer:
    """Base class: checks ``params``/``grads`` and keeps per-parameter buffers."""

    def __init__(self, lr: float):
        self.lr = _hyper("lr", lr, 0.0, math.inf, low_open=True)
        self._buffers: dict[tuple[str, str], np.ndarray] = {}

    def _buffer(self, kind: str, key: str, p: np.ndarray) -> np.ndarray:
        """A zero-initialised array like ``p`` named (kind, key), made on first use."""
        buf = self._buffers.get((kind, key))
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype:
            buf = self._buffers[(kind, key)] = np.zeros_like(p)
        return buf

    @staticmethod
    def _check(params: dict, grads: dict) -> None:
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise TypeError(
                f"params and grads must be dicts of arrays, got {type(params).__name__} "
                f"and {type(grads).__name__}"
            )
        if params.keys() != grads.keys():
            raise ValueError(
                f"grads must have the keys of params: expected {sorted(params)}, "
                f"got {sorted(grads)}"
            )
        for key, p in params.items():
            g = grads[key]
            if (type(p) is np.ndarray and type(g) is np.ndarray and p.shape == g.shape
                    and p.dtype.kind == "f"):
                continue  # the common case, in one test
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

    def update(self, params: dict, grads: dict) -> None:
        self._check(params, grads)
        for key, p in params.items():
            self._step(key, p, grads[key])

    def _step(self, key: str, p: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent: W ← W − η ∂L/∂W."""

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def _step(self, key, p, g):
        sgd_update(p, g, self.lr)  # p −= lr·g in one pass, without a temporary


class Momentum(Optimizer):
    """Momentum: v ← αv − η ∂L/∂W ; W ← W + v  (v starts at 0, α = ``momentum``)."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = _hyper("momentum", momentum, 0.0, 1.0)

    def _step(self, key, p, g):
        v, step = self._buffer("v", key, p), self._buffer("step", key, p)
        v *= self.momentum
        np.multiply(g, self.lr, out=step)
        v -= step
        p += v


class Nesterov(Optimizer):
    """Nesterov's accelerated gradient, as the book writes it.

    v ← αv − η ∂L/∂W ;  W ← W + α²v − (1+α) η ∂L/∂W
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(lr)
        self.momentum = _hyper("momentum", momentum, 0.0, 1.0)

    def _step(self, key, p, g):
        v, step = self._buffer("v", key, p), self._buffer("step", key, p)
        a = self.momentum
        v *= a
        np.multiply(g, self.lr, out=step)
        v -= step
        np.multiply(v, a * a, out=step)
        p += step
        np.multiply(g, (1.0 + a) * self.lr, out=step)
        p -= step


class AdaGrad(Optimizer):
    """AdaGrad: h ← h + ∂L/∂W ⊙ ∂L/∂W ;  W ← W − η ∂L/∂W / (√h + 1e-7)."""

    def __init__(self, lr: float = 0.01):
        super().__init__(lr)

    def _step(self, key, p, g):
        h, step = self._buffer("h", key, p), self._buffer("step", key, p)
        np.multiply(g, g, out=step)
        h += step
        _scaled_step(p, g, h, self.lr, step)


class RMSprop(Optimizer):
    """RMSprop: h ← ρh + (1−ρ) ∂L/∂W ⊙ ∂L/∂W ;  W ← W − η ∂L/∂W / (√h + 1e-7), ρ = decay_rate."""

    def __init__(self, lr: float = 0.01, decay_rate: float = 0.99):
        super().__init__(lr)
        self.decay_rate = _hyper("decay_rate", decay_rate, 0.0, 1.0)

    def _step(self, key, p, g):
        h, step = self._buffer("h", key, p), self._buffer("step", key, p)
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
    """

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999):
        super().__init__(lr)
        self.beta1 = _hyper("beta1", beta1, 0.0, 1.0)
        self.beta2 = _hyper("beta2", beta2, 0.0, 1.0)
        self.iter = 0

    def update(self, params: dict, grads: dict) -> None:
        self._check(params, grads)
        self.iter += 1
        t = self.iter
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
        for key, p in params.items():
            g = grads[key]
            m, v = self._buffer("m", key, p), self._buffer("v", key, p)
            step = self._buffer("step", key, p)
            np.subtract(g, m, out=step)
            step *= 1.0 - self.beta1
            m += step
            np.multiply(g, g, out=step)
            step -= v
            step *= 1.0 - self.beta2
            v += step
            _scaled_step(p, m, v, lr_t, step)


def _scaled_step(p, num, h, lr, step):
    """p ← p − lr · num / (√h + 1e-7), through the scratch buffer ``step``."""
    np.sqrt(h, out=step)
    step += EPS
    np.divide(num, step, out=step)
    step *= lr
    p -= step
