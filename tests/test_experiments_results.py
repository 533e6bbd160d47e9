"""Result: plain data that round-trips through JSON, bit for bit, dtype and shape included."""

import json

import numpy as np
import pytest

from dlkit.experiments.results import Result, load_results, save_results


def _sample():
    rng = np.random.default_rng(3)
    return Result(
        "demo",
        {"lr": 0.01, "hidden_size_list": (100, 100), "schemes": {"c": ("constant", 0.5)}},
        [0, 1],
        {
            "loss": rng.standard_normal((2, 7)),
            "acc32": rng.random(3).astype(np.float32),
            "counts": np.arange(6, dtype=np.int64).reshape(2, 3),
            "flags": np.array([True, False]),
            "empty": np.zeros((0, 4)),
            "scalar_array": np.array(1.5),
            "special": np.array([np.nan, np.inf, -np.inf, 1e-300, 0.1 + 0.2]),
            "nested": {"inner": {"x": np.linspace(0, 1, 5)}, "names": ["a", "b"]},
            "n": 3,
            "note": "text",
            "none": None,
        },
    )


def test_json_round_trip_is_exact(tmp_path):
    r = _sample()
    back = Result.from_json(r.to_json())
    assert back == r
    for key in ("loss", "acc32", "counts", "flags", "empty", "scalar_array"):
        assert back.data[key].dtype == r.data[key].dtype
        assert back.data[key].shape == r.data[key].shape
    # float64 comes back bit for bit (repr precision), not just approximately
    assert back.data["special"].tobytes() == r.data["special"].tobytes()
    path = tmp_path / "r.json"
    r.save(path)
    assert Result.load(path) == r
    # the file is plain JSON: loadable without dlkit
    assert json.loads(path.read_text())["experiment"] == "demo"


def test_settings_are_kept_in_json_form():
    r = _sample()
    assert r.settings["hidden_size_list"] == [100, 100]  # tuple stored as list, as JSON would
    assert r.settings["schemes"]["c"] == ["constant", 0.5]


def test_equality_sees_a_changed_number():
    r, other = _sample(), _sample()
    other.data["loss"][1, 3] += 1e-12
    assert r != other
    other = _sample()
    other.data["acc32"] = other.data["acc32"].astype(np.float64)  # same values, other dtype
    assert r != other


def test_several_results_in_one_file(tmp_path):
    path = tmp_path / "results.json"
    save_results({"a": _sample(), "b": _sample()}, path, meta={"seconds": 1.5})
    back = load_results(path)
    assert set(back) == {"a", "b"} and back["a"] == _sample()
    assert json.loads(path.read_text())["meta"] == {"seconds": 1.5}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"x": object()}, r"data\['x'\]: expected an array"),
        ({1: 2}, "dict keys must be str"),
        ({"x": np.array(["a", "b"])}, "arrays must be bool, int or float"),
        ({"__ndarray__": 1}, "reserved"),
    ],
)
def test_values_json_cannot_hold_are_refused_at_once(data, message):
    with pytest.raises((TypeError, ValueError), match=message):
        Result("demo", {}, [0], data)


def test_load_refuses_a_file_that_is_not_results(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="'results' key"):
        load_results(path)
    with pytest.raises(ValueError, match="needs the keys"):
        Result.from_dict({"experiment": "x"})
