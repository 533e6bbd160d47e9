"""Hidden checks, assignment 3: training the lesson's network with Batch Normalization.

Student API (a3_training/train.py):
    train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0) -> model with predict(x) -> scores (N, 10)
Every call passes every setting (BOOK for the lesson's experiment), so the student's
defaults are never used.

The lesson's experiment (6.3.2): 1000 training samples, 5 hidden layers of 100, SGD lr 0.01,
batch 100, 20 epochs, weight scales np.logspace(0, -4, 16).  Data: Fashion-MNIST (real
data, loaded here on the trusted side): the worker receives the first 1000 training images
with their labels, then only the *images* of 2000 test images for predict (see ``split``);
the test labels never leave this process and the accuracy is computed here.

If the dataset cannot be loaded the grader stops with a grader error (exit status 3), it
never scores the student 0 for our missing file.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from grader.checks.helpers import (
    array,
    close,
    described,
    grader_error,
    plain,
    requires,
    say,
    thresholds,
)
from grader.sandbox.handle import StudentError, StudentTimeout, WorkerDied
from grader.scoring.plugin import CheckFailed

TRAIN = "a3_training.train:train"
N_TRAIN, N_EVAL = 1000, 2000
SCALES = np.logspace(0, -4, 16)
TRAIN_TIMEOUT = 60.0  # seconds per call of train (the solution: 1–3 s on a busy machine)
PREDICT_TIMEOUT = 30.0

# The weight scales graded, where the lesson says BatchNorm helps (indices into SCALES); the
# held-out accuracy each requires, and the other thresholds, with their calibration:
# thresholds.toml [a3].
CASES = {"large": 1, "mid": 5, "small": 7}
# The book's settings, passed to every train(...) call of the accuracy checks: a student's
# own defaults (the signature's epochs=20, lr=0.01 changed to anything) never matter.
BOOK = {"epochs": 20, "batch_size": 100, "lr": 0.01, "seed": 0}
T = thresholds("a3")
THRESHOLD = {"large": T["ACCURACY_LARGE"], "mid": T["ACCURACY_MID"],
             "small": T["ACCURACY_SMALL"]}
GAP_CASE = "mid"  # the lesson's comparison: BN minus no BN at this scale
GAP, TIME_BUDGET, LEARNS, CLUSTERS_NEED = (T[k] for k in ("GAP", "TIME_BUDGET", "LEARNS",
                                                          "CLUSTERS_NEED"))


# The held-out images are not the public files byte for byte: a hidden choice of 2000 of the
# 10,000 test images, with pixel noise N(0, 0.01²) (clipped to [0, 1]), so that a submission
# cannot look its images up in a table of the public test labels.  The noise is far below
# what changes a prediction (see the calibration above, measured on these same images).
_EVAL_SEED = 20240611
EVAL_NOISE = 0.01


def split(train, test):
    """(x_train, t_train, x_eval, t_eval) from load_mnist's ((x, t), (x_test, t_test))."""
    (x, t), (xe, te) = train, test
    rng = np.random.default_rng(_EVAL_SEED)
    pick = np.sort(rng.permutation(len(xe))[:N_EVAL])
    noisy = xe[pick] + rng.normal(0.0, EVAL_NOISE, (N_EVAL, xe.shape[1]))
    return (np.ascontiguousarray(x[:N_TRAIN], dtype=np.float64),
            np.asarray(t[:N_TRAIN], dtype=np.int64),
            np.clip(noisy, 0.0, 1.0),
            np.asarray(te[pick], dtype=np.int64))


@pytest.fixture(scope="module")
def data(hidden_data):
    """(x_train, t_train, x_eval, t_eval): Fashion-MNIST, or a grader error.

    A fixture, so that a missing dataset stops the run while setting up the first check,
    before any check has a result."""
    try:
        # float64 pixels, as the thresholds were calibrated (the loader gives the book's float32)
        train, test = hidden_data.fashion_mnist(dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - any failure to load is the grader's problem
        grader_error(f"a3 needs Fashion-MNIST (dlkit.data.load_mnist(dataset='fashion-mnist', "
                     f"download=False, dtype=np.float64)), which could not be loaded: "
                     f"{type(exc).__name__}: {exc}")
    if len(train[0]) < N_TRAIN or len(test[0]) < N_EVAL or train[0].shape[1:] != (784,):
        grader_error(f"a3: Fashion-MNIST has unexpected shapes {train[0].shape}, "
                     f"{test[0].shape}")
    return split(train, test)


class _Trained:
    """Models trained in this worker, by (scale index, use_batchnorm): each trained once."""

    def __init__(self):
        self.models: dict = {}
        self.seconds: dict = {}
        self.failures: dict = {}

    def get(self, worker, feedback, data, index, use_batchnorm):
        key = (index, use_batchnorm)
        if key in self.failures:  # the same training failed in an earlier check: no retry
            raise self.failures[key]
        for failure in self.failures.values():  # one run over time: do not wait for more
            if isinstance(failure, StudentTimeout):
                raise failure
        if key in self.models:
            model, generation = self.models[key]
            if generation == worker.generation:
                return model
        x, t, _, _ = data
        scale = float(SCALES[index])
        start = time.perf_counter()
        try:
            model = worker.call(TRAIN, x, t, weight_scale=scale, use_batchnorm=use_batchnorm,
                                **BOOK, timeout=TRAIN_TIMEOUT)
        except (StudentError, StudentTimeout, WorkerDied) as exc:
            self.failures[key] = exc
            raise
        self.seconds[key] = time.perf_counter() - start  # trusted clock
        if not hasattr(model, "call"):  # plain data came back, not an object with predict
            feedback.fail(say("a3.common.not_a_model", scale=scale, use_batchnorm=use_batchnorm,
                              got=described(model)))
        self.models[key] = (model, worker.generation)
        return model


_TRAINED = _Trained()


def _labels_as_scores(value, n):
    """Predicted labels (n,) in 0..9 as one-hot scores (n, 10), else None: a predict that
    returns labels instead of scores loses test_predict_returns_scores only."""
    if (isinstance(value, np.ndarray) and value.shape == (n,) and value.dtype.kind in "iu"
            and n and value.min() >= 0 and value.max() <= 9):
        return np.eye(10)[value]
    return None


def _predict(feedback, model, x, label):
    scores = model.call("predict", x, timeout=PREDICT_TIMEOUT)
    one_hot = _labels_as_scores(scores, x.shape[0])
    if one_hot is not None:
        return one_hot
    return array(feedback, scores, what=say("a3.common.predict", label=label, n=x.shape[0]),
                 shape=(x.shape[0], 10), finite=False)


def _accuracy(scores, t):
    """Fraction of rows whose largest score is the label; rows with NaN count as wrong."""
    ok = np.all(np.isfinite(scores), axis=1)
    return float(np.mean(ok & (np.argmax(np.where(ok[:, None], scores, 0), axis=1) == t)))


def _held_out_accuracy(worker, feedback, data, index, use_batchnorm):
    model = _TRAINED.get(worker, feedback, data, index, use_batchnorm)
    _, _, xe, te = data
    label = f"weight_scale={SCALES[index]:.3g}, use_batchnorm={use_batchnorm}"
    scores = _predict(feedback, model, xe, label)
    return _accuracy(scores, te), int(np.sum(~np.all(np.isfinite(scores), axis=1)))


def _diverged(bad):
    """A remark when some rows of scores were NaN or infinite."""
    return say("a3.common.diverged", bad=bad, n=N_EVAL) if bad else plain("")


def _evidence(worker, feedback, data):
    """What was measured about the training itself, and the hint it supports: asked only
    when an accuracy check fails.  Each hint follows from a measurement: training that leaves
    the model unchanged, an lr that changes nothing, or a network that learns easy data (so
    what fails is learning from the initial scale, which BatchNorm is there for).  When none
    holds, the feedback says what was measured and no more."""
    try:
        one, two = (_short_run(worker, feedback, data, 3, epochs) for epochs in (1, 2))
        if np.array_equal(one, two):
            return say("a3.common.training_changes_nothing")
        if np.array_equal(one, _short_run(worker, feedback, data, 3, 1, lr=0.02)):
            return say("a3.common.lr_unused")
        clusters = _clusters_accuracy(worker, feedback)
    except CheckFailed:
        return plain("")
    if clusters >= CLUSTERS_NEED:
        return say("a3.common.clusters_learned", clusters=clusters)
    return say("a3.common.clusters_not_learned", clusters=clusters)


def _check_bn_accuracy(worker, feedback, data, case):
    index = CASES[case]
    acc, bad = _held_out_accuracy(worker, feedback, data, index, True)
    need = THRESHOLD[case]
    if not acc >= need:
        why = _diverged(bad) if bad else _evidence(worker, feedback, data)
        feedback.fail(say("a3.common.accuracy_low", scale=SCALES[index], need=need, acc=acc,
                          why=why))
    feedback.note(say("a3.common.accuracy", acc=acc, need=need))


def test_bn_accuracy_large_scale(worker, feedback, data):
    _check_bn_accuracy(worker, feedback, data, "large")


def test_bn_accuracy_mid_scale(worker, feedback, data):
    _check_bn_accuracy(worker, feedback, data, "mid")


def test_bn_accuracy_small_scale(worker, feedback, data):
    _check_bn_accuracy(worker, feedback, data, "small")


def test_bn_beats_no_bn(worker, feedback, data):
    """The lesson's comparison: at this scale BatchNorm learns, the plain network does not."""
    index = CASES[GAP_CASE]
    with_bn, _ = _held_out_accuracy(worker, feedback, data, index, True)
    without, _ = _held_out_accuracy(worker, feedback, data, index, False)
    if not with_bn - without >= GAP:
        _, _, xe, _ = data
        same = np.array_equal(*(
            _predict(feedback, _TRAINED.get(worker, feedback, data, index, bn), xe[:200],
                     f"use_batchnorm={bn}") for bn in (True, False)))
        why = (say("a3.test_bn_beats_no_bn.same_model") if same
               else say("a3.test_bn_beats_no_bn.see_mid"))
        feedback.fail(say("a3.test_bn_beats_no_bn.gap_small", scale=SCALES[index], gap=GAP,
                          with_bn=with_bn, without=without, why=why))


# Short runs (a few epochs at the mid scale, with BatchNorm), each trained once: the evidence
# of the gate below and of the hints.  Key: (seed, epochs, lr).
SHORT_RUN = {"weight_scale": float(SCALES[CASES["mid"]]), "use_batchnorm": True,
             "batch_size": 100}
_SHORT: dict = {}


def _short_run(worker, feedback, data, seed, epochs, lr=0.01, *, again=False):
    """Scores on 200 held-out images of train(seed, epochs, lr) at the mid scale (cached;
    ``again``: train anew, e.g. to compare two runs of the same seed)."""
    key = (seed, epochs, lr)
    if again or _SHORT.get(key, (None, -1))[1] != worker.generation:
        x, t, xe, _ = data
        model = worker.call(TRAIN, x, t, seed=seed, epochs=epochs, lr=lr, **SHORT_RUN,
                            timeout=TRAIN_TIMEOUT)
        scores = _predict(feedback, model, xe[:200], f"train(..., seed={seed}, epochs={epochs}, "
                          f"lr={lr})")
        if again:
            return scores
        _SHORT[key] = (scores, worker.generation)
    return _SHORT[key][0]


def _trains(worker, feedback, data):
    """The gate of the checks of a working program (time, same seed, scores): train returns
    a network whose predictions depend on the image and change with training (one epoch vs
    two, same seed).  A model that predicts a constant, or that training leaves as it was,
    earns none of them; a network that learns badly still does (its accuracy is graded)."""
    one, two = (_short_run(worker, feedback, data, 3, epochs) for epochs in (1, 2))
    if not (np.all(np.isfinite(two)) and np.any(np.std(two, axis=0) > 0)):
        feedback.fail(say("a3.common.constant_scores"))
    if np.array_equal(one, two):
        feedback.fail(say("a3.common.unchanged_by_training"))


# predict in inference mode pays for a network that learns with BatchNorm at all: at the mid
# scale, a held-out accuracy of at least LEARNS.


def _learns(worker, feedback, data):
    """The main result the secondary checks depend on: BatchNorm at the mid scale learns."""
    acc, _ = _held_out_accuracy(worker, feedback, data, CASES["mid"], True)
    if not acc >= LEARNS:
        feedback.fail(say("a3.common.learns_too_little", acc=acc, need=LEARNS))


def test_predict_inference_mode(worker, feedback, data):
    """predict uses the running statistics: a sample's scores do not depend on its batch,
    and predicting does not change the model."""
    requires(feedback, say("a3.common.main_learns"), _learns, worker, feedback, data)
    model = _TRAINED.get(worker, feedback, data, CASES[GAP_CASE], True)
    _, _, xe, _ = data
    label = "use_batchnorm=True"
    full = _predict(feedback, model, xe[:200], label)
    for start, stop in ((0, 1), (0, 7), (190, 200)):
        got = _predict(feedback, model, xe[start:stop], label)
        close(feedback, got, full[start:stop],
              what=say("a3.test_predict_inference_mode.alone", n=stop - start),
              tol=T["PREDICT_TOL"], hint=say("a3.test_predict_inference_mode.rule"))
    again = _predict(feedback, model, xe[:200], label)
    close(feedback, again, full, what=say("a3.test_predict_inference_mode.again"),
          tol=T["PREDICT_TOL"], hint=say("a3.test_predict_inference_mode.unchanged"))


def test_time_budget(worker, feedback, data):
    """One training run with BatchNorm (1000 images, 20 epochs) within TIME_BUDGET seconds."""
    requires(feedback, say("a3.common.main_trains"), _trains, worker, feedback, data)
    runs = [s for (_, bn), s in _TRAINED.seconds.items() if bn]
    if not runs:  # the accuracy checks did not train (they failed early): train once here
        _TRAINED.get(worker, feedback, data, CASES["mid"], True)
        runs = [s for (_, bn), s in _TRAINED.seconds.items() if bn]
    fastest = min(runs)
    if not fastest <= TIME_BUDGET:
        feedback.fail(say("a3.test_time_budget.too_slow", budget=TIME_BUDGET, fastest=fastest,
                          runs=len(runs)))
    feedback.note(say("a3.test_time_budget.measured", fastest=fastest, budget=TIME_BUDGET))


# ------------------------------------------------------------------ what the public tests test


def test_predict_returns_scores(worker, feedback, data):
    """model.predict(x) returns class scores (N, 10), as the handout says (1 point: predicted
    labels instead still count for the accuracy checks)."""
    requires(feedback, say("a3.common.main_trains"), _trains, worker, feedback, data)
    model = _TRAINED.get(worker, feedback, data, CASES["mid"], True)
    _, _, xe, _ = data
    got = model.call("predict", xe[:7], timeout=PREDICT_TIMEOUT)
    if not (isinstance(got, np.ndarray) and got.shape == (7, 10) and got.dtype.kind == "f"):
        feedback.fail(say("a3.test_predict_returns_scores.not_scores", got=described(got)))


def test_same_seed_same_model(worker, feedback, data):
    """train(seed=s) twice gives the same model, another seed another one: every random
    number comes from np.random.default_rng(seed) (never the global np.random)."""
    requires(feedback, say("a3.common.main_trains"), _trains, worker, feedback, data)
    scores = [_short_run(worker, feedback, data, 3, 2),
              _short_run(worker, feedback, data, 3, 2, again=True),
              _short_run(worker, feedback, data, 4, 2)]
    if not np.array_equal(scores[0], scores[1]):
        feedback.fail(say("a3.test_same_seed_same_model.differ"))
    if np.array_equal(scores[0], scores[2]):
        feedback.fail(say("a3.test_same_seed_same_model.same"))


# Ten well separated Gaussian clusters (centres 3σ apart per coordinate, 20 dimensions), drawn
# here with a hidden seed: any network whose every layer learns separates them (CLUSTERS_NEED).
CLUSTERS_SEED = 7_051_931


def _clusters(n_per_class, seed_offset):
    rng = np.random.default_rng(CLUSTERS_SEED)
    centres = rng.normal(scale=3.0, size=(10, 20))
    rng = np.random.default_rng(CLUSTERS_SEED + seed_offset)
    t = np.repeat(np.arange(10), n_per_class)
    x = centres[t] + rng.normal(size=(t.size, 20))
    order = rng.permutation(t.size)
    return x[order], t[order]


_CLUSTERS: dict = {}


def _clusters_accuracy(worker, feedback) -> float:
    """Held-out accuracy on the ten clusters (trained once per worker generation)."""
    if _CLUSTERS.get("generation") != worker.generation:
        x, t = _clusters(30, 1)
        xe, te = _clusters(50, 2)
        model = worker.call(TRAIN, x, t, weight_scale=0.1, use_batchnorm=True, epochs=30,
                            batch_size=30, lr=0.1, seed=0, timeout=TRAIN_TIMEOUT)
        scores = _predict(feedback, model, xe, "ten clusters, use_batchnorm=True")
        _CLUSTERS.update(generation=worker.generation, accuracy=_accuracy(scores, te))
    return _CLUSTERS["accuracy"]


def test_learns_separable_clusters(worker, feedback):
    """With BatchNorm the network learns ten separated clusters (lr 0.1, 30 epochs): every
    layer, gamma and beta included, must get its gradient."""
    acc = _clusters_accuracy(worker, feedback)
    if not acc >= CLUSTERS_NEED:
        feedback.fail(say("a3.test_learns_separable_clusters.not_learned", need=CLUSTERS_NEED,
                          acc=acc))
