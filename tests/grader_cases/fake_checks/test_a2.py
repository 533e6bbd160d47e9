"""Fake a2 checks: BatchNormalization forward (train) and backward vs NumPy (README.md)."""

import numpy as np

BN = "a2_batchnorm.batchnorm:BatchNormalization"


def _data(seed=0, N=8, D=5):
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 2.0, (N, D)), rng.uniform(0.5, 2, D), rng.uniform(-1, 1, D)


def test_forward_train(worker):
    x, gamma, beta = _data()
    bn = worker.create(BN, gamma, beta)
    out = bn.call("forward", x, train_flg=True)
    want = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta
    assert np.allclose(out, want, rtol=0, atol=1e-9)


def test_backward(worker):
    x, gamma, beta = _data(1)
    dout = np.random.default_rng(2).normal(size=x.shape)
    bn = worker.create(BN, gamma, beta)
    bn.call("forward", x, train_flg=True)
    dx = bn.call("backward", dout)
    N = x.shape[0]
    invstd = 1 / np.sqrt(x.var(0) + 1e-5)
    xhat = (x - x.mean(0)) * invstd
    want = gamma * invstd / N * (N * dout - dout.sum(0) - xhat * (dout * xhat).sum(0))
    assert np.allclose(dx, want, rtol=0, atol=1e-9)
    assert np.allclose(bn.get("dgamma"), (dout * xhat).sum(0), atol=1e-9)


def test_no_static_import_of_dlkit_batchnorm(submission_files, feedback):
    names = submission_files.imports("a2_batchnorm/batchnorm.py")
    bad = sorted(n for n in names if "BatchNormalization" in n and n.startswith("dlkit"))
    if bad:
        feedback.fail(en=f"imports {bad}: implement BatchNorm yourself",
                      ja=f"{bad} をインポートしています: BatchNorm は自分で実装してください")
