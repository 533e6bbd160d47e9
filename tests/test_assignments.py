"""assignments/ and solutions/: the public tests, the model answers, the handout.

- every public test passes on solutions/ and fails on the stubs with the stub's own
  NotImplementedError (real pytest subprocesses, read back through their JUnit XML);
- the tests run the same way from the repository root, from inside assignments/, and from a
  copy of assignments/ alone (the handout);
- the model answers agree with dlkit (a2 with dlkit.layers.BatchNormalization, a4 with
  dlkit.kernels) and reject bad input with a ValueError naming the argument.
"""

import importlib
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = REPO / "assignments"
SOLUTIONS = REPO / "solutions"
TASKS = ("a1_initialization", "a2_batchnorm", "a3_training", "a4_numba")
STUB_FILES = {
    "a1_initialization": "initializers.py",
    "a2_batchnorm": "batchnorm.py",
    "a3_training": "train.py",
    "a4_numba": "kernels.py",
}


def run_pytest(args, cwd, junit):
    """Run pytest in a subprocess; returns (completed process, {test id: (outcome, message)})."""
    env = dict(os.environ)
    # One BLAS thread: the a3 tests multiply small matrices, and on a loaded 2-core machine
    # OpenBLAS' thread pool makes them ~10x slower, not faster.
    env["OPENBLAS_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider", f"--junitxml={junit}"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )
    assert junit.is_file(), f"pytest wrote no report:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = child.tag
                message = (child.get("message") or "") + "\n" + (child.text or "")
        results[test_id] = (outcome, message)
    return proc, results


def short_id(test_id):
    """'assignments.a2_batchnorm.test_public::test_x' -> 'a2_batchnorm::test_x' (any root)."""
    module, name = test_id.split("::")
    task = next(t for t in TASKS if t in module.split("."))
    return f"{task}::{name}"


def fashion_mnist_skip(outcome, message):
    return outcome == "skipped" and "Fashion-MNIST is not installed" in message


@pytest.fixture(scope="module")
def solutions_run(tmp_path_factory):
    junit = tmp_path_factory.mktemp("solutions") / "junit.xml"
    return run_pytest(["assignments", "--submission", "solutions"], REPO, junit)


@pytest.fixture(scope="module")
def stubs_run(tmp_path_factory):
    junit = tmp_path_factory.mktemp("stubs") / "junit.xml"
    return run_pytest(["assignments"], REPO, junit)


def test_solutions_pass_every_public_test(solutions_run):
    proc, results = solutions_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    by_task = {task: [t for t in results if short_id(t).startswith(task)] for task in TASKS}
    assert all(len(tests) >= 5 for tests in by_task.values()), by_task
    not_passed = {t: r for t, r in results.items()
                  if r[0] != "passed" and not fashion_mnist_skip(*r)}
    assert not not_passed


def test_stubs_fail_every_public_test_with_their_own_message(stubs_run, solutions_run):
    proc, results = stubs_run
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]  # 1: tests failed
    assert {short_id(t) for t in results} == {short_id(t) for t in solutions_run[1]}
    for test_id, (outcome, message) in results.items():
        if fashion_mnist_skip(outcome, message):
            continue
        assert outcome == "failure", (test_id, outcome, message[-1500:])
        assert re.search(r"NotImplementedError: TODO \(task [1-4]\)", message), (
            test_id, message[-1500:])


def test_public_tests_run_from_inside_assignments(tmp_path):
    proc, results = run_pytest(["--submission=../../solutions"], ASSIGNMENTS / "a2_batchnorm",
                               tmp_path / "junit.xml")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert {short_id(t).split("::")[0] for t in results} == {"a2_batchnorm"}
    assert len(results) >= 5 and all(r[0] == "passed" for r in results.values())


def make_handout(tmp_path, filled_in):
    """A copy of assignments/ alone, with the model answers of the tasks ``filled_in``."""
    handout = tmp_path / "handout"
    shutil.copytree(ASSIGNMENTS, handout,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    for path in handout.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".md", ".ini"):
            assert "solutions" not in path.read_text(encoding="utf-8"), path
    for task in filled_in:
        shutil.copy(SOLUTIONS / task / STUB_FILES[task], handout / task / STUB_FILES[task])
    return handout


def test_handout_alone_half_done(tmp_path, solutions_run):
    """The student's situation: assignments/ alone (no repository around it, so no
    pyproject.toml and no model answers), tasks 1-2 done, `pytest` with no option."""
    handout = make_handout(tmp_path, filled_in=["a1_initialization", "a2_batchnorm"])
    proc, results = run_pytest([], handout, tmp_path / "junit.xml")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert {short_id(t) for t in results} == {short_id(t) for t in solutions_run[1]}
    for test_id, (outcome, message) in results.items():
        if short_id(test_id).startswith(("a1", "a2")):
            assert outcome == "passed", (test_id, message[-1500:])
        elif not fashion_mnist_skip(outcome, message):
            assert outcome == "failure" and "NotImplementedError: TODO (task" in message


@pytest.mark.slow
def test_handout_alone_all_done(tmp_path, solutions_run):
    handout = make_handout(tmp_path, filled_in=TASKS)
    proc, results = run_pytest([], handout, tmp_path / "junit.xml")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert {short_id(t) for t in results} == {short_id(t) for t in solutions_run[1]}
    assert all(r[0] == "passed" or fashion_mnist_skip(*r) for r in results.values())


# ---------------------------------------------------------------- the model answers in-process
@pytest.fixture
def solution(monkeypatch):
    """solution("a2_batchnorm.batchnorm") imports that model answer; forgotten afterwards."""
    monkeypatch.syspath_prepend(str(SOLUTIONS))

    def load(name):
        module = importlib.import_module(name)
        assert Path(module.__file__).resolve().is_relative_to(SOLUTIONS)
        return module

    yield load
    for name in list(sys.modules):
        if name.split(".")[0] in TASKS:
            del sys.modules[name]


def test_a2_solution_agrees_with_dlkit_layers(solution):
    from dlkit.layers import BatchNormalization as DlkitBN

    mine_cls = solution("a2_batchnorm.batchnorm").BatchNormalization
    rng = np.random.default_rng(0)
    D = 6
    gamma, beta = rng.uniform(0.5, 2, D), rng.normal(size=D)
    mine = mine_cls(gamma.copy(), beta.copy(), momentum=0.8)
    ref = DlkitBN(gamma.copy(), beta.copy(), momentum=0.8, eps=1e-5)  # a2's default eps
    for step in range(3):  # running averages over several steps, batches of different sizes
        x = rng.normal(loc=step, scale=1 + step, size=(5 + 3 * step, D))
        dout = rng.normal(size=x.shape)
        np.testing.assert_allclose(mine.forward(x, train_flg=True),
                                   ref.forward(x, train_flg=True), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mine.backward(dout), ref.backward(dout),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(mine.dgamma, ref.dgamma, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mine.dbeta, ref.dbeta, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mine.running_mean, ref.running_mean, rtol=1e-12)
        np.testing.assert_allclose(mine.running_var, ref.running_var, rtol=1e-12)
        x_test = rng.normal(size=(4, D))
        np.testing.assert_allclose(mine.forward(x_test, train_flg=False),
                                   ref.forward(x_test, train_flg=False), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("layout", ["C", "strided"])
def test_a4_solution_agrees_with_dlkit_kernels(solution, dtype, rtol, layout):
    from dlkit import kernels as K

    a4 = solution("a4_numba.kernels")
    rng = np.random.default_rng(1)
    x = rng.normal(loc=2.0, scale=3.0, size=(33, 2 * 9)).astype(dtype)
    dout = rng.normal(size=(33, 2 * 9)).astype(dtype)
    if layout == "strided":  # every second column: not contiguous
        x, dout = x[:, ::2], dout[:, ::2]
    N, D = x.shape
    gamma = rng.uniform(0.5, 2, D).astype(dtype)
    beta = rng.normal(size=D).astype(dtype)

    def outputs():
        return [np.full((N, D), np.nan, dtype), np.full((N, D), np.nan, dtype),
                np.full(D, np.nan, dtype), np.full(D, np.nan, dtype)]

    mine, ref = outputs(), outputs()
    assert a4.batchnorm_forward_train(x, gamma, beta, 1e-5, *mine) is mine[0]
    K.batchnorm_forward_train(x, gamma, beta, 1e-5, *ref)
    for a, b in zip(mine, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
        assert a.dtype == dtype

    xhat, invstd = ref[1], ref[3]
    mine = [np.full((N, D), np.nan, dtype), np.full(D, np.nan, dtype), np.full(D, np.nan, dtype)]
    ref = [np.full((N, D), np.nan, dtype), np.full(D, np.nan, dtype), np.full(D, np.nan, dtype)]
    assert a4.batchnorm_backward(dout, xhat, gamma, invstd, *mine) is mine[0]
    K.batchnorm_backward(dout, xhat, gamma, invstd, *ref)
    for a, b in zip(mine, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=10 * rtol)


def test_a1_solution_draws_like_dlkit(solution):
    from dlkit.initializers import init_weight as dlkit_init_weight

    a1 = solution("a1_initialization.initializers")
    for scheme in ("zeros", 0.01, 1.0, "xavier", "he"):
        np.testing.assert_array_equal(
            a1.init_weight(50, 30, scheme, np.random.default_rng(7)),
            dlkit_init_weight(50, 30, scheme, np.random.default_rng(7)),
        )


# ---------------------------------------------------------------- bad input in the model answers
def _a1(s, call):
    return call(s("a1_initialization.initializers"))


def _bn(s):
    return s("a2_batchnorm.batchnorm").BatchNormalization(np.ones(3), np.zeros(3))


def _a4_forward(s, N, D, D_gamma):
    x = np.ones((N, D)) + np.arange(N)[:, None]
    return s("a4_numba.kernels").batchnorm_forward_train(
        x, np.ones(D_gamma), np.zeros(D_gamma), 1e-5, np.empty((N, D)), np.empty((N, D)),
        np.empty(D), np.empty(D))


def _a4_backward(s, N, D, N_dx):
    return s("a4_numba.kernels").batchnorm_backward(
        np.ones((N, D)), np.ones((N, D)), np.ones(D), np.ones(D), np.empty((N_dx, D)),
        np.empty(D), np.empty(D))


BAD_INPUT = {
    "a1 unknown scheme": (
        lambda s: _a1(s, lambda m: m.init_weight(3, 3, "glorot", np.random.default_rng())),
        ValueError, r"scheme.*'glorot'"),
    "a1 negative std": (
        lambda s: _a1(s, lambda m: m.init_weight(3, 3, -0.1, np.random.default_rng())),
        ValueError, r"scheme.*-0.1"),
    "a1 no Generator": (
        lambda s: _a1(s, lambda m: m.init_weight(3, 3, "he", np.random)),
        TypeError, r"rng.*Generator"),
    "a1 unknown activation": (
        lambda s: _a1(s, lambda m: m.layer_activations(np.ones((2, 3)), [np.ones((3, 3))],
                                                       "softplus")),
        ValueError, r"activation.*'softplus'"),
    "a1 widths do not chain": (
        lambda s: _a1(s, lambda m: m.layer_activations(np.ones((2, 3)),
                                                       [np.ones((3, 4)), np.ones((3, 4))],
                                                       "relu")),
        ValueError, r"weights\[1\].*4 rows.*\(3, 4\)"),
    "a1 stats of unknown activation": (
        lambda s: _a1(s, lambda m: m.spread_stats(np.ones(3), "elu")),
        ValueError, r"activation.*'elu'"),
    "a2 batch of one": (
        lambda s: _bn(s).forward(np.ones((1, 3)), train_flg=True),
        ValueError, r"N >= 2.*N = 1"),
    "a2 wrong width": (
        lambda s: _bn(s).forward(np.ones((4, 5))),
        ValueError, r"x.*\(N, 3\).*\(4, 5\)"),
    "a2 gamma not 1-D": (
        lambda s: s("a2_batchnorm.batchnorm").BatchNormalization(np.ones((3, 1)), np.zeros(3)),
        ValueError, r"gamma.*1-D.*\(3, 1\)"),
    "a2 backward before forward": (
        lambda s: _bn(s).backward(np.ones((4, 3))),
        RuntimeError, r"backward.*forward"),
    "a3 labels out of range": (
        lambda s: s("a3_training.train").train(np.ones((4, 2)), np.array([0, 1, 2, 10]),
                                               weight_scale=0.1, use_batchnorm=True,
                                               batch_size=2),
        ValueError, r"t_train.*0\.\.9.*0\.\.10"),
    "a3 zero weight scale": (
        lambda s: s("a3_training.train").train(np.ones((4, 2)), np.zeros(4, int),
                                               weight_scale=0.0, use_batchnorm=True,
                                               batch_size=2),
        ValueError, r"weight_scale.*positive.*0\.0"),
    "a3 batch of one with batchnorm": (
        lambda s: s("a3_training.train").train(np.ones((4, 2)), np.zeros(4, int),
                                               weight_scale=0.1, use_batchnorm=True,
                                               batch_size=1),
        ValueError, r"batch_size.*>= 2.*1"),
    "a4 forward batch of one": (lambda s: _a4_forward(s, 1, 3, 3), ValueError, r"N >= 2"),
    "a4 forward gamma width": (lambda s: _a4_forward(s, 4, 3, 2), ValueError,
                               r"gamma.*\(D,\).*3.*\(2,\)"),
    "a4 backward dx shape": (lambda s: _a4_backward(s, 4, 3, 5), ValueError,
                             r"dx.*\(4, 3\).*\(5, 3\)"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_solutions_reject_bad_input_clearly(solution, case):
    call, error, pattern = BAD_INPUT[case]
    with pytest.raises(error) as info:
        call(solution)
    assert re.search(pattern, str(info.value)), str(info.value)
