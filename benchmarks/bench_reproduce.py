"""``dlkit reproduce``: on one core against all cores, and Numba layers against NumPy's.

    python -m pytest benchmarks/bench_reproduce.py --benchmark-only

On Fashion-MNIST (Debian's dataset-fashion-mnist; the same shapes and cost as MNIST), in one
session; the "dlkit benchmark summary" (benchmarks/conftest.py) prints the results.

**Cores.** With the book's settings on three seeds, in the same session (the same machine
load for all): the 16-claim run of the book's four figures in one process (what ``dlkit
reproduce`` was before its runs were shared out: the baseline), every experiment in one
process (``jobs=1``) and every experiment in a worker process per core (the default). The
summary gives the times, their ratios, the time each experiment's runs took (their sum over
the runs: the work to share out) and what all cores could at best make of it (that sum
divided by the cores). Then the whole command as a user types it, start-up, data, figures
and files included: the four figures with ``--jobs 1`` (the 16-claim command) against every
experiment on all cores. The target, for the runs and for the command: every experiment on
two cores faster than the 16-claim run on one. One round each (minutes).

**Backends.** The book's four figures (symmetry, histograms, the initialization comparison,
BatchNorm against the weight scale) with one seed, once with ``backend='numba'`` and once with
``backend='numpy'`` (the same networks built from the book-style ``dlkit.reference`` layers):
the total of each, the speed-up (target ≥ 3×) and the time and speed-up of each experiment.

Both backends do their matrix products in the same BLAS (on one thread, see
``dlkit.experiments.training``); those products are most of the work of these small
networks, which bounds the ratio. ``test_reproduce_matrix_products_alone`` measures that
bound in the same run: it times the products of one training step and of one evaluation
pass of each training experiment's network, counts how many of each the book settings make,
and prints their total (a floor under any backend that uses this BLAS) and the largest ratio
it leaves possible.
"""

import inspect
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _products import forward_products, step_products
from threadpoolctl import threadpool_limits

from dlkit.experiments.parallel import default_jobs
from dlkit.experiments.reproduce import EXPERIMENTS, SETTINGS, load_data, run_all, run_experiment

FASHION = Path("/usr/share/datasets/fashion-mnist")
GROUP = "dlkit reproduce, the book's four figures, book settings, 1 seed"
TARGET = 3.0
_SECONDS = {}  # backend -> {experiment: seconds} of the timed run
#: the experiments behind the book's four figures (the backend comparison's scope)
BOOK_FIGURES = ["symmetry", "activation_histograms", "init_compare", "batchnorm_compare"]

CORES_GROUP = "dlkit reproduce, book settings, 3 seeds, every experiment"
SEEDS = [0, 1, 2]
COMMAND_GROUP = "the whole `dlkit reproduce --dataset fashion-mnist`"
_CORES = {}  # entry name -> {experiment: seconds of its runs}


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
        _SECONDS[backend] = run_all(data, seeds=[0], backend=backend,
                                    experiments=BOOK_FIGURES)[1]

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
                "(target: well under a minute)")
    report.target(GROUP, "backend='numba'", TARGET)
    if "numpy" in _SECONDS:
        report.note("  speed-up per experiment: " + ", ".join(
            f"{name} {_SECONDS['numpy'][name] / s:.2f}x"
            for name, s in _SECONDS["numba"].items()))


def _cores(benchmark, report, data, name, jobs, experiments=None, baseline=False):
    def run():
        _CORES[name] = run_all(data, seeds=SEEDS, dataset="fashion-mnist", jobs=jobs,
                               experiments=experiments)[1]

    benchmark.group = CORES_GROUP
    benchmark.pedantic(run, rounds=1, iterations=1)
    seconds = report.record(benchmark, CORES_GROUP, name, baseline=baseline)
    if seconds is not None:
        runs = _CORES[name]
        report.note(f"  {name}: {seconds:.1f} s wall; the runs of each experiment took "
                    + ", ".join(f"{e} {s:.1f} s" for e, s in runs.items())
                    + f" (total {sum(runs.values()):.1f} s; / {jobs} = "
                      f"{sum(runs.values()) / jobs:.1f} s at best on {jobs} core(s))")
    return seconds


def test_reproduce_16_claims_one_process(benchmark, report, data):
    _cores(benchmark, report, data, "16 claims, jobs=1", 1, BOOK_FIGURES, baseline=True)


def test_reproduce_one_process(benchmark, report, data):
    _cores(benchmark, report, data, "every experiment, jobs=1", 1)


def test_reproduce_all_cores(benchmark, report, data):
    jobs = default_jobs()
    seconds = _cores(benchmark, report, data, f"every experiment, jobs={jobs}", jobs)
    one = report.seconds(CORES_GROUP, "every experiment, jobs=1")
    if seconds is not None and one is not None:
        report.note(f"  every experiment, all {jobs} cores against one process: "
                    f"{one / seconds:.2f}x ({one:.1f} s -> {seconds:.1f} s)")
    report.target(CORES_GROUP, f"every experiment, jobs={jobs}", 1.0)


def _command(benchmark, report, name, args, baseline=False):
    """Time ``dlkit reproduce --dataset fashion-mnist ARGS`` as a user runs it."""
    script = Path(sys.executable).with_name("dlkit")
    out = tempfile.mkdtemp(prefix="dlkit-bench-")
    command = [str(script), "reproduce", "--dataset", "fashion-mnist", "--out", out, *args]

    def run():
        subprocess.run(command, check=True, capture_output=True, stdin=subprocess.DEVNULL)

    try:
        benchmark.group = COMMAND_GROUP
        benchmark.pedantic(run, rounds=1, iterations=1)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return report.record(benchmark, COMMAND_GROUP, name, baseline=baseline)


def test_reproduce_16_claim_command_one_process(benchmark, report, data):
    """The four figures' command in one process: what the whole command must beat."""
    _command(benchmark, report, "16 claims, --jobs 1",
             ["--jobs", "1", "--experiments", *BOOK_FIGURES], baseline=True)


def test_reproduce_command_all_cores(benchmark, report, data):
    """The whole command as a user runs it: start-up, data, runs, figures, files."""
    jobs = default_jobs()
    name = f"every experiment, --jobs {jobs}"
    if _command(benchmark, report, name, []) is None:
        return
    report.note(f"  load average {os.getloadavg()[0]:.1f} at the end")
    report.target(COMMAND_GROUP, name, 1.0)


def _book_settings(name):
    """The settings ``run_all`` gives experiment ``name``: its defaults and SETTINGS['book']."""
    defaults = {k: p.default for k, p in inspect.signature(EXPERIMENTS[name]).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {**defaults, **SETTINGS["book"][name]}


def _product_counts(data):
    """Per training experiment at book settings and one seed: (layer sizes, batch size,
    number of training steps, [(n, number of forward passes over n samples), ...])."""
    x_train, t_train, x_test, _ = data
    n_in, n_out = x_train.shape[1], int(t_train.max()) + 1
    s = _book_settings("init_compare")
    nets = len(s["schemes"])  # one network per scheme; train and test accuracy at the end
    init = ([n_in, *s["hidden_size_list"], n_out], s["batch_size"], nets * s["iterations"],
            [(min(s["train_eval_size"], len(x_train)), nets), (len(x_test), nets)])
    s = _book_settings("batchnorm_compare")
    nets = 2 * len(s["weight_scales"])  # with and without BatchNorm
    steps = s["epochs"] * -(-s["train_size"] // s["batch_size"])
    # training accuracy before training and after every epoch, test accuracy at the end
    bn = ([n_in, *s["hidden_size_list"], n_out], s["batch_size"], nets * steps,
          [(s["train_size"], nets * (s["epochs"] + 1)), (len(x_test), nets)])
    return {"init_compare": init, "batchnorm_compare": bn}


def _fastest(fn, rounds=30):
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def test_reproduce_matrix_products_alone(benchmark, report, data):
    """The floor under the ratio: the training experiments' matrix products alone.

    The Numba layers' products (no first-layer dx, see bench_network.py), each timed at its
    fastest, times how often the book settings make it. symmetry and activation_histograms
    are left out (about a second together), so the floor is lower than the true one and the
    ratio it allows is, if anything, too generous.
    """
    if benchmark.disabled:
        pytest.skip("a timing (run with benchmarks enabled)")

    def measure():
        with threadpool_limits(limits=1, user_api="blas"):
            return {name: steps * _fastest(step_products(sizes, batch, False)) + sum(
                        count * _fastest(forward_products(sizes, n)) for n, count in passes)
                    for name, (sizes, batch, steps, passes) in _product_counts(data).items()}

    benchmark.group = "the matrix products of dlkit reproduce, alone"
    floors = benchmark.pedantic(measure, rounds=1, iterations=1)
    floor = sum(floors.values())
    line = f"  matrix products alone (init_compare, batchnorm_compare): {floor:.1f} s"
    numpy_s, numba_s = _SECONDS.get("numpy"), _SECONDS.get("numba")
    if numba_s:
        line += f", {floor / sum(numba_s.values()):.0%} of the numba run"
    if numpy_s:
        total = sum(numpy_s.values())
        line += (f"; so at most {total / floor:.2f}x is possible with this BLAS (per "
                 "experiment: " + ", ".join(f"{name} {numpy_s[name] / s:.2f}x"
                                             for name, s in floors.items()) + ")")
    report.note(line)
    print("\n" + line)
    if numba_s:  # the products are a part of the run: a floor above it would be mismeasured
        assert floor < sum(numba_s.values()), line
