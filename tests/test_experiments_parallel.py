"""Runs in worker processes: the same numbers as in one process, shared runs done once, and a
failing or dying worker ends everything with the run named and nothing written."""

import os
import signal

import numpy as np
import pytest

from dlkit.experiments import (
    NAMES,
    batchnorm_compare,
    batchnorm_speed,
    gradient_flow,
    histograms,
    init_activations,
    init_compare,
    overfitting,
    symmetry,
)
from dlkit.experiments.parallel import execute
from dlkit.experiments.reproduce import EXPERIMENTS, plan_all, run_all
from dlkit.experiments.runs import Plan, Run, RunError, run_plan


@pytest.fixture(scope="module")
def small(fashion_mnist):
    """2,000 training and 500 test images of Fashion-MNIST."""
    (x_train, t_train), (x_test, t_test) = fashion_mnist
    return x_train[:2000], t_train[:2000], x_test[:500], t_test[:500]


def _tiny_plans(data):
    """Every experiment, with settings small enough for seconds, on two seeds."""
    net = {"hidden_size_list": [20, 20], "seeds": [0, 1]}
    return [
        symmetry.plan(*data, steps=5, **net),
        histograms.plan(n_samples=50, seeds=[0, 1]),
        gradient_flow.plan(*data, steps=4, probe_size=64, **net),
        init_compare.plan(*data, iterations=6, train_eval_size=100, **net),
        init_activations.plan(*data, iterations=6, train_eval_size=100, **net),
        batchnorm_compare.plan(*data, weight_scales=[0.5, 0.05], train_size=200, epochs=2,
                               **net),
        batchnorm_speed.plan(*data, lrs=[0.01, 1.0], train_size=200, epochs=2, **net),
        overfitting.plan(*data, train_size=100, epochs=4, eval_every=2, test_eval_size=100,
                         **net),
    ]


def test_workers_give_the_one_process_numbers_bit_for_bit(small):
    plans = _tiny_plans(small)
    assert [p.experiment for p in plans] == list(EXPERIMENTS) == list(NAMES)
    one, _ = execute(plans, small, jobs=1)
    two, seconds = execute(plans, small, jobs=2)
    three, _ = execute(plans, small, jobs=3)
    for name in EXPERIMENTS:
        assert one[name] == two[name] == three[name], name  # arrays compared exactly
        assert seconds[name] > 0
    # and the experiment functions themselves (one process, their own loop over runs)
    x, t, xt, tt = small
    direct = init_compare.init_compare(x, t, xt, tt, iterations=6, train_eval_size=100,
                                       hidden_size_list=[20, 20], seeds=[0, 1])
    assert direct == two["init_compare"]
    assert not np.array_equal(direct.data["schemes"]["He"]["loss"][0],
                              direct.data["schemes"]["He"]["loss"][1])  # seeds differ


def test_the_quick_reproduce_is_the_same_on_every_core_count(small):
    a, _ = run_all(small, seeds=[3], quick=True, jobs=1, experiments=["gradient_flow",
                                                                     "batchnorm_speed"])
    b, _ = run_all(small, seeds=[3], quick=True, jobs=2, experiments=["batchnorm_speed",
                                                                     "gradient_flow"])
    assert list(a) == list(b) == ["gradient_flow", "batchnorm_speed"]  # the lesson's order
    assert a == b


def _count(data, *, path, value):
    with open(path, "a") as f:
        f.write(f"{value}\n")
    return {"value": value}


def test_a_run_two_plans_share_is_done_once(tmp_path):
    path = str(tmp_path / "calls")
    shared = Run("a", _count, {"path": path, "value": 1})
    own = Run("b", _count, {"path": path, "value": 2})
    plans = [Plan("a", [shared], lambda outs: outs),
             Plan("b", [Run("b", _count, {"path": path, "value": 1}), own],
                  lambda outs: outs)]
    for jobs in (1, 2):
        open(path, "w").close()
        results, _ = execute(plans, None, jobs=jobs)
        assert results == {"a": [{"value": 1}], "b": [{"value": 1}, {"value": 2}]}
        assert sorted(open(path).read().split()) == ["1", "2"]


def test_init_activations_reuses_init_compares_relu_runs(small):
    plans, _ = plan_all(small, ["init_compare", "init_activations"], seeds=[0], quick=True)
    ic, ia = ({r.key for r in p.runs} for p in plans)
    assert len(ic) == 3 and len(ia) == 6 and ic < ia  # the ReLU row is init_compare itself


def _fail(data, *, label):
    if label == "bad":
        raise FloatingPointError(f"the loss of {label} became NaN")
    return {}


def _die(data, *, label):
    if label == "dies":
        os.kill(os.getpid(), signal.SIGKILL)
    return {}


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_run_is_named_with_its_traceback(jobs):
    runs = [Run("demo", _fail, {"label": label}) for label in ("a", "bad", "c", "d")]
    with pytest.raises(RunError) as info:
        execute([Plan("demo", runs, lambda outs: outs)], None, jobs=jobs)
    message = str(info.value)
    assert message.startswith("demo run _fail(label='bad') failed:")
    assert "FloatingPointError: the loss of bad became NaN" in message
    assert "in _fail" in message  # the traceback, from the worker where there was one
    assert info.value.run.kwargs == {"label": "bad"}


def test_a_worker_that_dies_is_named():
    runs = [Run("demo", _die, {"label": label}, work=w)
            for label, w in (("dies", 3.0), ("b", 2.0), ("c", 1.0))]
    with pytest.raises(RunError) as info:
        execute([Plan("demo", runs, lambda outs: outs)], None, jobs=2)
    message = str(info.value)
    assert message.startswith("demo run _die(label='dies') failed:")
    assert "killed by signal SIGKILL" in message


def test_jobs_must_be_a_positive_int():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs must be a positive int"):
            execute([], None, jobs=bad)
    assert execute([Plan("none", [], lambda outs: outs)], None, jobs=2) == ({"none": []},
                                                                           {"none": 0.0})


def test_bad_settings_stop_everything_before_any_run(small, monkeypatch):
    import dlkit.experiments.reproduce as reproduce

    monkeypatch.setattr(reproduce, "execute", lambda *a, **k: pytest.fail("runs started"))
    with pytest.raises(ValueError, match=r"experiments must name some of .*'histogram'"):
        run_all(small, seeds=[0], experiments=["symmetry", "histogram"])
    cases = [
        (batchnorm_speed.plan, {"target_acc": 1.5}, r"target_acc must be a number in \(0, 1\]"),
        (batchnorm_speed.plan, {"target_acc": 0}, r"target_acc must be a number in \(0, 1\]"),
        (batchnorm_speed.plan, {"lrs": []}, "lrs must be a non-empty list"),
        (batchnorm_speed.plan, {"lrs": [0.1, -1]}, "lrs must be a non-empty list of positive"),
        (batchnorm_speed.plan, {"epochs": 0}, "epochs must be a positive int, got 0"),
        (overfitting.plan, {"epochs": 0}, "epochs must be a positive int, got 0"),
        (overfitting.plan, {"configs": {"x": ("he", "yes", 0.0)}}, r"configs\['x'\] must be"),
        (overfitting.plan, {"configs": {"x": ("he", False)}}, r"configs\['x'\] must be "
                                                                r"\(weight_init, use_batchnorm"),
        (overfitting.plan, {"configs": {"x": ("he", False, -0.1)}},
         r"weight_decay_lambda >= 0\), got \('he', False, -0.1\)"),
        (gradient_flow.plan, {"steps": 0}, "steps must be a positive int, got 0"),
        (gradient_flow.plan, {"configs": [{"name": "a", "activation": "elu",
                                           "weight_init": "he"}]}, "activation"),
        (init_compare.plan, {"activation": "elu"}, "activation must be one of"),
        (init_activations.plan, {"activations": ["relu", "elu"]}, "activations must be"),
        (init_activations.plan, {"activations": []}, "activations must be"),
        (init_activations.plan, {"lr": {"relu": 0.01}},
         r"lr must give a learning rate for every activation: missing \['sigmoid'\]"),
        (init_activations.plan, {"lr": {"sigmoid": 0, "relu": 0.01}}, "lr must be a positive"),
    ]
    for fn, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            fn(*small, **kwargs)
    with pytest.raises(ValueError, match="overfitting needs x_test"):
        overfitting.plan(*small[:2])


def test_one_experiment_is_its_plans_runs(small):
    p = symmetry.plan(*small, steps=3, seeds=[0, 1], hidden_size_list=[10])
    assert len(p.runs) == 2 * 3  # seeds × initializations
    assert run_plan(p, small) == symmetry.symmetry(small[0], small[1], steps=3, seeds=[0, 1],
                                                   hidden_size_list=[10])
