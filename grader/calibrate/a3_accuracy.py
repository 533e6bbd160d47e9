"""Calibrate a3's accuracy thresholds: held-out accuracy of a submission's ``train``.

    OPENBLAS_NUM_THREADS=1 python -m grader.calibrate.a3_accuracy SUBMISSION \\
        [--dataset fashion-mnist|mnist-t10k] [--seeds 0,1,2] [--scales 1,5,9] [--no-bn]

Imports the submission's ``a3_training.train`` in this process: run it only on trusted code
(solutions/, tests/slip_cases.py ...).  The data are those of the hidden checks
(``grader/checks/test_a3.py``): Fashion-MNIST, the first 1000 training images to train on
and 2000 test images (``test_a3.split``: a hidden choice, with a little pixel noise) to
evaluate on; or the MNIST test set from the folder $DLKIT_GRADE_MNIST_DIR (only the
10,000 test images: ``t10k-*-idx*-ubyte.gz``): train on the first 1000 of its first 8000,
evaluate on its last 2000.  ``--scales`` are indices into ``np.logspace(0, -4, 16)``, the
lesson's weight scales.  Prints one line per scale: accuracies per seed, with and without BatchNorm.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

SCALES = np.logspace(0, -4, 16)


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def load(dataset: str):
    """(x_train, t_train, x_eval, t_eval) as the checks use them."""
    if dataset == "fashion-mnist":
        import numpy as np

        from dlkit.data import load_mnist
        from grader.checks.test_a3 import split

        return split(*load_mnist(dataset="fashion-mnist", download=False, dtype=np.float64))
    from grader.scoring.plugin import MNIST_DIR_VARIABLE, MNIST_TEST_FILES, HiddenData

    data = HiddenData().mnist_test()
    if data is None:
        raise SystemExit(f"mnist-t10k: expected ${MNIST_DIR_VARIABLE} to name a folder holding "
                         f"{' and '.join(MNIST_TEST_FILES)}, got "
                         f"{os.environ.get(MNIST_DIR_VARIABLE) or 'the variable unset'!r}")
    x, t = data
    return x[:1000], t[:1000], x[8000:], t[8000:]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("submission")
    p.add_argument("--dataset", choices=("fashion-mnist", "mnist-t10k"), default="fashion-mnist")
    p.add_argument("--seeds", type=_ints, default=[0, 1, 2])
    p.add_argument("--scales", type=_ints, default=list(range(16)))
    p.add_argument("--no-bn", action="store_true", help="also train without BatchNorm")
    args = p.parse_args(argv)
    sys.path.insert(0, args.submission)
    from a3_training.train import train

    x, t, xe, te = load(args.dataset)
    for i in args.scales:
        line = f"{i:2d} scale {SCALES[i]:.2e}"
        for bn in (True, False) if args.no_bn else (True,):
            accs, start = [], time.perf_counter()
            for seed in args.seeds:
                with np.errstate(all="ignore"):
                    model = train(x, t, weight_scale=float(SCALES[i]), use_batchnorm=bn,
                                  seed=seed)
                    accs.append(float(np.mean(np.argmax(model.predict(xe), axis=1) == te)))
            per = (time.perf_counter() - start) / len(args.seeds)
            each = " ".join(f"{a:.3f}" for a in accs)
            line += (f" | {'BN' if bn else 'no BN'} min {min(accs):.3f} mean "
                     f"{np.mean(accs):.3f} max {max(accs):.3f} [{each}] {per:.1f} s/run")
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
