"""``dlkit demo``: train the lesson's network for a few hundred steps, print loss and accuracy.

The network of the lesson (Deep Learning from Scratch, 6.2–6.3): 784-100-100-100-100-10,
ReLU, He initialisation (σ = √(2/n)), Batch Normalization after every hidden Affine layer,
trained with SGD (lr 0.01) on mini-batches of 128 drawn at random (with replacement, as the
book) from the training set of Fashion-MNIST or MNIST. Everything random comes from one
Generator seeded by ``--seed``: the same seed prints the same numbers.
"""

from __future__ import annotations

import argparse
import sys
import time

from dlkit.argtypes import positive_int, seed

DATASETS = ("fashion-mnist", "mnist")
HIDDEN = [100, 100, 100, 100]
LR = 0.01
BATCH_SIZE = 128
PRINT_EVERY = 50
EVAL_SIZE = 10_000  # training images scored at the end (all 60 000 would need ~0.5 GB)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``dlkit demo`` on the sub-command parsers ``sub``."""
    p = sub.add_parser(
        "demo",
        help="train the lesson's network (784-100x4-10, ReLU, He, BatchNorm) briefly",
        description=(
            "Train 784-100-100-100-100-10 (ReLU, He initialisation, BatchNorm) with SGD "
            f"(lr {LR}, batch {BATCH_SIZE}) and print the loss and the accuracy. The dataset "
            "is found locally or downloaded (see `dlkit data`)."
        ),
    )
    p.add_argument("--dataset", choices=DATASETS, default="fashion-mnist",
                   help="training data (default: %(default)s)")
    p.add_argument("--steps", type=positive_int, default=300,
                   help="SGD steps (mini-batches) to train (default: %(default)s)")
    p.add_argument("--seed", type=seed, default=0,
                   help="seed of the one random generator (default: %(default)s)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Train and report; exit status 1 when the dataset cannot be had."""
    import numpy as np
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    from dlkit.data import load_mnist
    from dlkit.network import MultiLayerNet
    from dlkit.optimizers import SGD

    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(dataset=args.dataset)
    except (OSError, ValueError) as exc:  # not found, download failed, corrupted files
        print(f"dlkit demo: cannot load {args.dataset!r}:\n{exc}", file=sys.stderr)
        return 1

    rng = np.random.default_rng(args.seed)
    net = MultiLayerNet(784, HIDDEN, 10, activation="relu", weight_init_std="he",
                        use_batchnorm=True, seed=rng)
    optimizer = SGD(lr=LR)
    sizes = "-".join(str(n) for n in [784, *HIDDEN, 10])
    print(f"dlkit demo: {args.dataset}, {sizes} ReLU, He init, BatchNorm, SGD lr {LR}, "
          f"batch {BATCH_SIZE}, {args.steps} steps, seed {args.seed}")

    x_batch = np.empty((BATCH_SIZE, x_train.shape[1]), dtype=x_train.dtype)
    t_batch = np.empty(BATCH_SIZE, dtype=t_train.dtype)
    recent = []
    start = time.perf_counter()
    steps = tqdm(range(1, args.steps + 1), desc="training", unit="step",
                 disable=not sys.stderr.isatty())
    # one BLAS thread, as the experiments: at batch 128 the products are too small to gain
    # from threads, and on a busy machine spinning BLAS threads slow a step down 10-20x
    with threadpool_limits(limits=1, user_api="blas"):
        for step in steps:
            idx = rng.choice(x_train.shape[0], BATCH_SIZE)
            np.take(x_train, idx, axis=0, out=x_batch)
            np.take(t_train, idx, out=t_batch)
            grads = net.gradient(x_batch, t_batch)
            optimizer.update(net.params, grads)
            recent.append(net.last_layer.loss)  # the loss of this batch, before the update
            if step == 1 or step % PRINT_EVERY == 0 or step == args.steps:
                tqdm.write(f"step {step:5d}  loss {np.mean(recent):.4f}"
                           + (f"  (mean of the last {len(recent)} batches)" if step > 1 else ""))
                recent = []
    elapsed = time.perf_counter() - start

    n_eval = min(EVAL_SIZE, x_train.shape[0])
    train_acc = net.accuracy(x_train[:n_eval], t_train[:n_eval])
    test_acc = net.accuracy(x_test, t_test)
    print(f"trained {args.steps} steps in {elapsed:.1f} s ({args.steps / elapsed:.0f} steps/s)")
    print(f"train accuracy {train_acc:.4f} (first {n_eval} images)  "
          f"test accuracy {test_acc:.4f} ({x_test.shape[0]} images)")
    return 0
