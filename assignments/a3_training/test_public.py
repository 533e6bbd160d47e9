"""Public tests for task 3 (training).  Run: pytest a3_training

A subset of what the grader checks: the shape of the scores, your BatchNormalization layer
really being used, reproducibility, learning an easy synthetic problem, and a short run on
Fashion-MNIST (skipped when the dataset is not installed).  Passing them is a good sign, not
a guarantee of full points: the grader trains longer, on more settings, and scores held-out
images.
"""

import numpy as np
import pytest


@pytest.fixture
def a3(load_module):
    return load_module("a3_training.train")


@pytest.fixture
def batchnorm_calls(load_module, monkeypatch):
    """Counts the calls of YOUR BatchNormalization.forward (task 2), by mode."""
    layer_class = load_module("a2_batchnorm.batchnorm").BatchNormalization
    original = layer_class.forward
    calls = {True: 0, False: 0}

    def counting_forward(self, x, train_flg=True):
        calls[bool(train_flg)] += 1
        return original(self, x, train_flg)

    monkeypatch.setattr(layer_class, "forward", counting_forward)
    return calls


def blobs(n_per_class=30, dim=20, seed=0):
    """10 well separated Gaussian clusters: an easy problem any working network learns."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(10, dim))
    t = np.repeat(np.arange(10), n_per_class)
    x = centres[t] + rng.normal(size=(t.size, dim))
    order = rng.permutation(t.size)
    return x[order], t[order]


@pytest.mark.parametrize("use_batchnorm", [True, False])
def test_predict_gives_scores_for_10_classes(a3, use_batchnorm):
    x, t = blobs()
    model = a3.train(x, t, weight_scale=0.1, use_batchnorm=use_batchnorm, epochs=1,
                     batch_size=50)
    scores = model.predict(x[:7])
    assert isinstance(scores, np.ndarray)
    assert scores.shape == (7, 10)
    assert np.all(np.isfinite(scores))


def test_your_batchnorm_is_used_only_when_asked(a3, batchnorm_calls):
    x, t = blobs()
    a3.train(x, t, weight_scale=0.1, use_batchnorm=False, epochs=1, batch_size=50)
    assert batchnorm_calls == {True: 0, False: 0}
    model = a3.train(x, t, weight_scale=0.1, use_batchnorm=True, epochs=1, batch_size=50)
    # 300 samples / 50 = 6 steps, 5 hidden layers each: 30 training-mode calls.
    assert batchnorm_calls[True] == 30
    model.predict(x[:5])
    assert batchnorm_calls[False] == 5  # predict runs in inference mode


def test_same_seed_same_model(a3):
    x, t = blobs()
    kwargs = dict(weight_scale=0.1, use_batchnorm=True, epochs=2, batch_size=50)
    p1 = a3.train(x, t, seed=3, **kwargs).predict(x)
    p2 = a3.train(x, t, seed=3, **kwargs).predict(x)
    p3 = a3.train(x, t, seed=4, **kwargs).predict(x)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_learns_an_easy_problem_with_batchnorm(a3):
    x, t = blobs(seed=1)
    model = a3.train(x, t, weight_scale=0.1, use_batchnorm=True, epochs=30, batch_size=30,
                     lr=0.1)
    accuracy = np.mean(model.predict(x).argmax(axis=1) == t)
    assert accuracy > 0.9


def test_fashion_mnist_short_run_with_batchnorm(a3):
    data = pytest.importorskip("dlkit.data")
    try:
        (x_train, t_train), (x_test, t_test) = data.load_mnist(dataset="fashion-mnist",
                                                                 download=False)
    except data.DatasetNotFoundError as error:
        pytest.skip(f"Fashion-MNIST is not installed here ({error})")
    # The lesson's setting (1000 samples, batch 100, lr 0.01), 5 epochs instead of 20.
    model = a3.train(x_train[:1000], t_train[:1000], weight_scale=0.03, use_batchnorm=True,
                     epochs=5)
    accuracy = np.mean(model.predict(x_test[:2000]).argmax(axis=1) == t_test[:2000])
    assert accuracy > 0.5  # ≈ 0.7 for the model answer; 0.1 is chance; without BN: 0.1
