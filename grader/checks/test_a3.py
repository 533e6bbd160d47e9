"""Hidden checks, assignment 3: training the lesson's network with Batch Normalization.

Student API (a3_training/train.py):
    train(x_train, t_train, *, weight_scale, use_batchnorm, epochs=20, batch_size=100,
          lr=0.01, seed=0) -> model with predict(x) -> scores (N, 10)

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

from grader.checks._expect import array, close, describe, grader_error, requires
from grader.sandbox.handle import StudentError, StudentTimeout, WorkerDied

TRAIN = "a3_training.train:train"
N_TRAIN, N_EVAL = 1000, 2000
SCALES = np.logspace(0, -4, 16)
TRAIN_TIMEOUT = 60.0  # seconds per call of train (the solution: 1–3 s on a busy machine)
PREDICT_TIMEOUT = 30.0

# The weight scales graded, where the lesson says BatchNorm helps (indices into SCALES), and
# the held-out accuracy required with BatchNorm.  Calibrated with grader/calibrate/
# a3_accuracy.py on the reference solution, Fashion-MNIST (1000 train, the 2000 held-out
# images of ``split`` below), seeds 0–29 of train(seed=...) (a student's code draws its
# numbers differently, which is like another seed), OPENBLAS_NUM_THREADS=1:
#   index 1, scale 0.541:  BN 0.408 – 0.500 (mean 0.461)   no BN 0.107 – 0.112 (seeds 0–9)
#   index 5, scale 0.0464: BN 0.741 – 0.770 (mean 0.755)   no BN 0.112 – 0.173 (seeds 0–9)
#   index 7, scale 0.0136: BN 0.655 – 0.799 (mean 0.760)   no BN 0.112         (seeds 0–9)
# Each threshold is ≥ 0.10 below the worst of the 30 seeds (≥ 5 standard deviations of the
# accuracy over seeds below the mean) and ≥ 0.19 above the network without BatchNorm, which
# is what a submission that leaves BatchNorm out gets (tests/grader_cases/buggy/
# a3_no_batchnorm: 0.0 where it diverges, else 0.11 – 0.17).  Cross-check on real digits
# (MNIST test set: train on 1000 of the first 8000, evaluate on the last 2000; seeds 0–4):
# BN 0.79 – 0.81 at index 5 and 0.87 – 0.88 at index 7, without BN 0.115 at both.
CASES = {"large": 1, "mid": 5, "small": 7}
THRESHOLD = {"large": 0.30, "mid": 0.60, "small": 0.45}
# The lesson's comparison at the mid scale: BN minus no BN, paired by seed, 0.568 – 0.658
# (seeds 0–9); a network that never has BatchNorm gets 0.
GAP_CASE = "mid"
GAP = 0.30
# Seconds for one training run with BatchNorm (the trusted clock around the call): the
# solution takes 1–3 s per run on this shared 2-core machine (the table above), NumPy code
# with Python loops over the samples of a batch takes minutes.
TIME_BUDGET = 20.0


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
        train, test = hidden_data.fashion_mnist()
    except Exception as exc:  # noqa: BLE001 - any failure to load is the grader's problem
        grader_error(f"a3 needs Fashion-MNIST (dlkit.data.load_mnist(dataset='fashion-mnist', "
                     f"download=False)), which could not be loaded: {type(exc).__name__}: {exc}")
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
                                timeout=TRAIN_TIMEOUT)
        except (StudentError, StudentTimeout, WorkerDied) as exc:
            self.failures[key] = exc
            raise
        self.seconds[key] = time.perf_counter() - start  # trusted clock
        if not hasattr(model, "call"):  # plain data came back, not an object with predict
            feedback.fail(
                en=(f"train(..., weight_scale={scale:.3g}, use_batchnorm={use_batchnorm}): "
                    f"expected a model object with predict(x), got {describe(model)}."),
                ja=(f"train(..., weight_scale={scale:.3g}, use_batchnorm={use_batchnorm}): "
                    f"predict(x) を持つモデルのオブジェクトを期待しましたが、"
                    f"{describe(model, 'ja')} が返されました。"),
            )
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
    return array(feedback, scores, what=f"{label}: model.predict(x) for {x.shape[0]} images",
                 what_ja=f"{label}: {x.shape[0]} 枚の画像に対する model.predict(x)",
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
    """A remark (en, ja) when some rows of scores were NaN or infinite."""
    if not bad:
        return "", ""
    return (f" {bad} of {N_EVAL} rows of scores were NaN or infinite: the training diverged.",
            f"{N_EVAL} 行中 {bad} 行のスコアが NaN または無限大でした。学習が発散しています。")


def _check_bn_accuracy(worker, feedback, data, case):
    index = CASES[case]
    acc, bad = _held_out_accuracy(worker, feedback, data, index, True)
    need = THRESHOLD[case]
    if not acc >= need:
        diverged = _diverged(bad)
        feedback.fail(
            en=(f"With BatchNorm and weight_scale={SCALES[index]:.3g} (20 epochs on 1000 "
                f"Fashion-MNIST images): expected a held-out accuracy of at least {need:.0%}, "
                f"got {acc:.1%}.{diverged[0]} The lesson: BatchNorm lets the network learn even "
                f"from this "
                f"initial scale. Check that every hidden layer is Affine → BatchNorm → ReLU, "
                f"that BatchNorm runs with train_flg=True while training and False in "
                f"predict, and that gamma and beta are updated too."),
            ja=(f"BatchNorm あり、weight_scale={SCALES[index]:.3g}（Fashion-MNIST 1000 枚で "
                f"20 エポック）: 評価データでの正解率 {need:.0%} 以上を期待しましたが、{acc:.1%} "
                f"でした。{diverged[1]}この初期値のスケールでも BatchNorm があれば学習できる、"
                f"というのが"
                f"授業の内容です。各隠れ層が Affine → BatchNorm → ReLU であること、学習中は "
                f"train_flg=True、predict では False で BatchNorm を使うこと、gamma と beta も"
                f"更新することを確認してください。"),
        )
    feedback.note(en=f"held-out accuracy {acc:.1%} (required {need:.0%})",
                  ja=f"評価データでの正解率 {acc:.1%}（必要 {need:.0%}）")


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
        feedback.fail(
            en=(f"weight_scale={SCALES[index]:.3g}: expected BatchNorm to beat the same network "
                f"without it by at least {GAP:.0%} held-out accuracy, got {with_bn:.1%} with "
                f"and {without:.1%} without. Does use_batchnorm=False leave the BatchNorm "
                f"layers out, and use_batchnorm=True put them in?"),
            ja=(f"weight_scale={SCALES[index]:.3g}: BatchNorm ありが、なしの同じネットワークより"
                f"評価データの正解率で {GAP:.0%} 以上高いことを期待しましたが、ありで "
                f"{with_bn:.1%}、なしで {without:.1%} でした。use_batchnorm=False で BatchNorm "
                f"層を除き、True で入れていますか。"),
        )


# The secondary checks (predict in inference mode, time, same seed) pay for a network that
# learns at all: with BatchNorm at the mid scale, a held-out accuracy of at least LEARNS
# (chance is 0.10, the network without BatchNorm 0.11 – 0.17, see the calibration above).
LEARNS = 0.25


def _learns(worker, feedback, data):
    """The main result the secondary checks depend on: BatchNorm at the mid scale learns."""
    acc, _ = _held_out_accuracy(worker, feedback, data, CASES["mid"], True)
    if not acc >= LEARNS:
        feedback.fail(en=f"held-out accuracy {acc:.1%}, at least {LEARNS:.0%} needed",
                      ja=f"評価データでの正解率は {acc:.1%}、{LEARNS:.0%} 以上が必要")


_LEARNS = ("learning with BatchNorm (weight_scale=0.0464)",
           "BatchNorm ありの学習（weight_scale=0.0464）")


def test_predict_inference_mode(worker, feedback, data):
    """predict uses the running statistics: a sample's scores do not depend on its batch,
    and predicting does not change the model."""
    requires(feedback, *_LEARNS, _learns, worker, feedback, data)
    model = _TRAINED.get(worker, feedback, data, CASES[GAP_CASE], True)
    _, _, xe, _ = data
    label = "use_batchnorm=True"
    full = _predict(feedback, model, xe[:200], label)
    for start, stop in ((0, 1), (0, 7), (190, 200)):
        got = _predict(feedback, model, xe[start:stop], label)
        close(feedback, got, full[start:stop], what=f"model.predict on {stop - start} image(s) "
              f"alone vs in a batch of 200",
              what_ja=f"{stop - start} 枚だけでの model.predict と 200 枚のバッチでの結果の比較",
              tol=1e-8,
              hint_en=("predict must run BatchNorm in inference mode (train_flg=False, the "
                       "running mean and variance), so that a sample's scores do not depend on "
                       "the other samples of the batch."),
              hint_ja=("predict では BatchNorm を推論モード（train_flg=False、running 平均・分散）"
                       "で使い、サンプルのスコアが同じバッチの他のサンプルに依存しないように"
                       "してください。"))
    again = _predict(feedback, model, xe[:200], label)
    close(feedback, again, full, what="model.predict called a second time on the same images",
          what_ja="同じ画像で 2 回目に呼んだ model.predict", tol=1e-8,
          hint_en="predict must not change the model (no updates of running statistics).",
          hint_ja="predict でモデルを変更してはいけません（running 統計量を更新しない）。")


def test_time_budget(worker, feedback, data):
    """One training run with BatchNorm (1000 images, 20 epochs) within TIME_BUDGET seconds."""
    requires(feedback, *_LEARNS, _learns, worker, feedback, data)
    runs = [s for (_, bn), s in _TRAINED.seconds.items() if bn]
    if not runs:  # the accuracy checks did not train (they failed early): train once here
        _TRAINED.get(worker, feedback, data, CASES["mid"], True)
        runs = [s for (_, bn), s in _TRAINED.seconds.items() if bn]
    fastest = min(runs)
    if not fastest <= TIME_BUDGET:
        feedback.fail(
            en=(f"train(..., use_batchnorm=True) on 1000 images for 20 epochs: expected at most "
                f"{TIME_BUDGET:g} s, took {fastest:.1f} s (fastest of {len(runs)} run(s)). Use "
                f"whole-array NumPy operations and dlkit's layers; no Python loops over samples."),
            ja=(f"train(..., use_batchnorm=True)（1000 枚、20 エポック）: {TIME_BUDGET:g} 秒以内を"
                f"期待しましたが、{fastest:.1f} 秒かかりました（{len(runs)} 回の最速）。NumPy の"
                f"配列演算と dlkit の層を使い、サンプルごとの Python ループは避けてください。"),
        )
    feedback.note(en=f"fastest training run {fastest:.1f} s (budget {TIME_BUDGET:g} s)",
                  ja=f"最速の学習 {fastest:.1f} 秒（上限 {TIME_BUDGET:g} 秒）")



# ------------------------------------------------------------------ what the public tests test


def test_predict_returns_scores(worker, feedback, data):
    """model.predict(x) returns class scores (N, 10), as the handout says (1 point: predicted
    labels instead still count for the accuracy checks)."""
    requires(feedback, *_LEARNS, _learns, worker, feedback, data)
    model = _TRAINED.get(worker, feedback, data, CASES["mid"], True)
    _, _, xe, _ = data
    got = model.call("predict", xe[:7], timeout=PREDICT_TIMEOUT)
    if not (isinstance(got, np.ndarray) and got.shape == (7, 10) and got.dtype.kind == "f"):
        feedback.fail(
            en=(f"model.predict(x) for 7 images: expected scores, a float array of shape "
                f"(7, 10), got {describe(got)}. The other checks used your labels: this costs "
                f"only this check's point."),
            ja=(f"7 枚の画像に対する model.predict(x): 形状 (7, 10) の浮動小数点数の配列"
                f"（スコア）を期待しましたが、{describe(got, 'ja')} が返されました。ほかの検査は"
                f"返されたラベルで採点しました。減点はこの検査の 1 点だけです。"))

SEED_RUN = dict(weight_scale=float(SCALES[CASES["mid"]]), use_batchnorm=True, epochs=2)


def test_same_seed_same_model(worker, feedback, data):
    """train(seed=s) twice gives the same model, another seed another one: every random
    number comes from np.random.default_rng(seed) (never the global np.random)."""
    requires(feedback, *_LEARNS, _learns, worker, feedback, data)
    x, t, xe, _ = data
    scores = []
    for seed in (3, 3, 4):
        model = worker.call(TRAIN, x, t, seed=seed, **SEED_RUN, timeout=TRAIN_TIMEOUT)
        scores.append(_predict(feedback, model, xe[:200], f"train(..., seed={seed})"))
    if not np.array_equal(scores[0], scores[1]):
        feedback.fail(
            en=("train(..., seed=3) called twice: expected the same model (the same scores), "
                "got different ones. Draw every random number (initial weights, shuffling) "
                "from rng = np.random.default_rng(seed), never from np.random.*."),
            ja=("train(..., seed=3) を 2 回呼ぶと同じモデル（同じスコア）になることを期待しました"
                "が、異なりました。乱数（重みの初期値、シャッフル）はすべて rng = "
                "np.random.default_rng(seed) から引き、np.random.* は使わないでください。"))
    if np.array_equal(scores[0], scores[2]):
        feedback.fail(
            en=("train(..., seed=3) and train(..., seed=4): expected different models, got the "
                "same scores. Build the generator from the seed argument."),
            ja=("train(..., seed=3) と train(..., seed=4): 異なるモデルを期待しましたが、"
                "スコアが同じでした。引数 seed から生成器を作ってください。"))


# Ten well separated Gaussian clusters (centres 3σ apart per coordinate, 20 dimensions), drawn
# here with a hidden seed: any network whose every layer learns separates them.  Measured on
# the model answer (seeds 0–9 of train): held-out accuracy 1.00; with BatchNorm's backward
# skipped (tests/grader_cases/buggy/a3_batchnorm_backward_skipped, only the output layer
# learns) 0.20 – 0.78.
CLUSTERS_SEED = 7_051_931
CLUSTERS_NEED = 0.9


def _clusters(n_per_class, seed_offset):
    rng = np.random.default_rng(CLUSTERS_SEED)
    centres = rng.normal(scale=3.0, size=(10, 20))
    rng = np.random.default_rng(CLUSTERS_SEED + seed_offset)
    t = np.repeat(np.arange(10), n_per_class)
    x = centres[t] + rng.normal(size=(t.size, 20))
    order = rng.permutation(t.size)
    return x[order], t[order]


def test_learns_separable_clusters(worker, feedback):
    """With BatchNorm the network learns ten separated clusters (lr 0.1, 30 epochs): every
    layer, gamma and beta included, must get its gradient."""
    x, t = _clusters(30, 1)
    xe, te = _clusters(50, 2)
    model = worker.call(TRAIN, x, t, weight_scale=0.1, use_batchnorm=True, epochs=30,
                        batch_size=30, lr=0.1, timeout=TRAIN_TIMEOUT)
    scores = _predict(feedback, model, xe, "ten clusters, use_batchnorm=True")
    acc = _accuracy(scores, te)
    if not acc >= CLUSTERS_NEED:
        feedback.fail(
            en=(f"Ten well separated clusters (300 training points, lr 0.1, 30 epochs, "
                f"BatchNorm): expected a held-out accuracy of at least {CLUSTERS_NEED:.0%}, "
                f"got {acc:.1%}. Every layer must learn: call backward of every layer in "
                f"reverse order (BatchNorm's too) and update W, b, gamma and beta."),
            ja=(f"よく分かれた 10 個のクラスタ（学習データ 300 点、lr 0.1、30 エポック、"
                f"BatchNorm あり）: 評価データでの正解率 {CLUSTERS_NEED:.0%} 以上を期待しましたが、"
                f"{acc:.1%} でした。すべての層が学習する必要があります。すべての層の backward "
                f"（BatchNorm も）を逆順に呼び、W、b、gamma、beta を更新してください。"))
