"""Fake a3 check: a trained model's predict has the right shape (README.md)."""

import numpy as np


def test_predict_shape(worker):
    rng = np.random.default_rng(0)
    x, t = rng.random((200, 784)), rng.integers(0, 10, 200)
    model = worker.call("a3_training.train:train", x, t, weight_scale=0.1,
                        use_batchnorm=True, epochs=1, timeout=120)
    scores = model.call("predict", x[:50])
    assert isinstance(scores, np.ndarray) and scores.shape == (50, 10)
