"""The whole of ``dlkit reproduce`` (book settings, one seed), Numba layers against NumPy's.

    python -m pytest benchmarks/bench_reproduce.py --benchmark-only

Runs the four experiments exactly as ``dlkit reproduce --seeds 0`` does (without drawing the
figures) on Fashion-MNIST (Debian's dataset-fashion-mnist; the same shapes and cost as MNIST),
once with ``backend='numba'`` and once with ``backend='numpy'`` (the same networks built from
the book-style ``dlkit.reference`` layers), in the same session. The "dlkit benchmark
summary" (benchmarks/conftest.py) prints the total of each, the speed-up (target ≥ 3×) and
the time and speed-up of each experiment; issue 4 asks for the Numba total to be well under a
minute. Each run takes about a minute: one round each.

Both backends do their matrix products in the same BLAS (on one thread, see
``dlkit.experiments.training``); those products are most of the work of these small
networks, which bounds the ratio (see benchmarks/bench_network.py, ``test_matmuls_alone``).
"""

import time
from pathlib import Path

import pytest

from dlkit.experiments.reproduce import load_data, run_all, run_experiment

FASHION = Path("/usr/share/datasets/fashion-mnist")
GROUP = "dlkit reproduce, book settings, 1 seed"
TARGET = 3.0
_SECONDS = {}  # backend -> {experiment: seconds} of the timed run


@pytest.fixture(scope="module")
def data():
    if not (FASHION / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST is not installed at {FASHION}")
    data = load_data("fashion-mnist", download=False)
    for backend in ("numba", "numpy"):  # load the kernels' cache, make the buffers
        run_experiment("batchnorm_compare", data, seeds=[0], quick=True, backend=backend,
                       weight_scales=[0.1], epochs=1)
    return data


def _reproduce(benchmark, report, data, backend, baseline=False):
    def run():
        _SECONDS[backend] = run_all(data, seeds=[0], backend=backend)[1]

    benchmark.group = GROUP
    benchmark.pedantic(run, rounds=1, iterations=1)
    seconds = report.record(benchmark, GROUP, f"backend='{backend}'", baseline=baseline)
    if seconds is not None:
        report.note(f"  {backend}: " + ", ".join(
            f"{name} {s:.1f} s" for name, s in _SECONDS[backend].items()))
    return seconds


def test_reproduce_numpy_reference(benchmark, report, data):
    _reproduce(benchmark, report, data, "numpy", baseline=True)


def test_reproduce_numba(benchmark, report, data):
    start = time.process_time()
    seconds = _reproduce(benchmark, report, data, "numba")
    if seconds is None:
        return
    report.note(f"  numba: {seconds:.1f} s wall, {time.process_time() - start:.1f} s CPU "
                "(issue 4: well under a minute)")
    report.target(GROUP, "backend='numba'", TARGET)
    if "numpy" in _SECONDS:
        report.note("  speed-up per experiment: " + ", ".join(
            f"{name} {_SECONDS['numpy'][name] / s:.2f}x"
            for name, s in _SECONDS["numba"].items()))
