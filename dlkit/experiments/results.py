"""The result of an experiment: plain data (numpy arrays, dicts, lists, numbers) that
round-trips through JSON.

An experiment returns a :class:`Result`; ``plots`` draws it, ``claims`` checks the lesson's
claims on it, ``Result.save``/``Result.load`` keep it on disk. Arrays keep their dtype and
shape through JSON: an array is written as ``{"__ndarray__": nested list, "dtype": "float64",
"shape": [...]}``; float64 values are written with ``repr`` precision, so they come back
bit for bit (NaN and ±inf use JSON's common ``NaN``/``Infinity`` extension, as Python's
``json`` does).

By convention the leading axis of every per-run array is the seed: ``data[...][k]`` belongs to
``seeds[k]``.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Result", "to_jsonable", "from_jsonable", "save_results", "load_results"]

_ARRAY_TAG = "__ndarray__"


def to_jsonable(obj: Any, where: str = "data") -> Any:
    """``obj`` as JSON-native values: arrays become tagged dicts, tuples become lists.

    Raises TypeError naming the place (``where``) of a value that JSON cannot hold.
    """
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"{where}: arrays must be bool, int or float, got dtype {obj.dtype}")
        return {_ARRAY_TAG: obj.tolist(), "dtype": obj.dtype.str.lstrip("<>|="),
                "shape": list(obj.shape)}
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: dict keys must be str, got {type(key).__name__} {key!r}")
            if key == _ARRAY_TAG:
                raise ValueError(f"{where}: the key {_ARRAY_TAG!r} is reserved for arrays")
            out[key] = to_jsonable(value, f"{where}[{key!r}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return float(obj)
    raise TypeError(
        f"{where}: expected an array, dict, list, str, number, bool or None, "
        f"got {type(obj).__name__}"
    )


def from_jsonable(obj: Any) -> Any:
    """Inverse of :func:`to_jsonable`: tagged dicts become arrays of their dtype and shape."""
    if isinstance(obj, dict):
        if _ARRAY_TAG in obj:
            arr = np.array(obj[_ARRAY_TAG], dtype=np.dtype(obj["dtype"]))
            return arr.reshape(obj["shape"])
        return {key: from_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    return obj


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
            and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@dataclass(eq=False)
class Result:
    """What an experiment measured.

    Attributes
    ----------
    experiment : the experiment's name, e.g. ``'activation_histograms'``.
    settings : the settings it ran with (JSON-native: tuples are stored as lists).
    seeds : the seeds it ran with; the leading axis of per-run arrays in ``data``.
    data : the measurements: numpy arrays, dicts of them, lists, numbers, strings.
    """

    experiment: str
    settings: dict[str, Any]
    seeds: list[int]
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.experiment, str) or not self.experiment:
            raise TypeError(f"experiment must be a non-empty str, got {self.experiment!r}")
        # settings are kept in their JSON form, so that a loaded Result equals the original
        self.settings = json.loads(json.dumps(to_jsonable(self.settings, "settings")))
        self.seeds = [int(s) for s in self.seeds]
        to_jsonable(self.data)  # fail now, not at save time, on a value JSON cannot hold

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-native values (see :func:`to_jsonable`)."""
        return {
            "experiment": self.experiment,
            "settings": self.settings,
            "seeds": list(self.seeds),
            "data": to_jsonable(self.data),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        """Inverse of :meth:`to_dict`."""
        missing = {"experiment", "settings", "seeds", "data"} - set(d)
        if missing:
            raise ValueError(f"a Result dict needs the keys {sorted(missing)}; got {sorted(d)}")
        return cls(d["experiment"], d["settings"], d["seeds"], from_jsonable(d["data"]))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Result):
            return NotImplemented
        return (
            self.experiment == other.experiment and self.settings == other.settings
            and self.seeds == other.seeds and _equal(self.data, other.data)
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the result to ``path`` as JSON (atomically: never a half-written file)."""
        _write_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Result:
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())


def save_results(results: dict[str, Result], path: str | os.PathLike, **extra: Any) -> None:
    """Write several results (name -> Result) and ``extra`` plain values to one JSON file."""
    payload = {"results": {name: r.to_dict() for name, r in results.items()}}
    payload.update(to_jsonable(extra, "extra"))
    _write_atomic(path, json.dumps(payload))


def load_results(path: str | os.PathLike) -> dict[str, Result]:
    """The results written by :func:`save_results` (name -> Result)."""
    with open(path, encoding="utf-8") as f:
        payload = json.load(f)
    if not isinstance(payload, dict) or "results" not in payload:
        raise ValueError(f"{os.fspath(path)}: expected a JSON object with a 'results' key")
    return {name: Result.from_dict(d) for name, d in payload["results"].items()}


def _write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename it: readers see the old file or
    the whole new one, never a half-written file."""
    path = os.fspath(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
