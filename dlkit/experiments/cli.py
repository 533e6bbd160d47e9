"""``dlkit reproduce | histograms | init-compare | batchnorm | symmetry``.

Each command runs experiment(s), writes one PNG per figure, ``results.json`` and ``report.md``
into ``--out``, and prints the lesson's claims with PASS/FAIL. A claim that FAILs is a result,
not an error: the exit status is 0 unless the data cannot be loaded (1).
"""

from __future__ import annotations

import argparse
import sys

from dlkit.argtypes import positive_int, seed

DATASETS = ("mnist", "fashion-mnist")


def _common(p: argparse.ArgumentParser, out: str, data: bool = True) -> None:
    p.add_argument("--out", metavar="DIR", default=out,
                   help="folder for the PNG figures, results.json and report.md, created if "
                        "needed; existing files of the same names are replaced "
                        "(default: %(default)s)")
    p.add_argument("--seeds", metavar="SEED", type=seed, nargs="+", default=None,
                   help="seeds to run, e.g. --seeds 0 1 2; figures show the mean and the "
                        "min–max band over seeds, and a claim PASSes only if it holds on every "
                        "seed (default: 0 1 2; 0 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="a reduced run for smoke tests, in seconds: fewer steps, epochs and "
                        "samples than the book's settings, one seed unless --seeds is given")
    if data:
        p.add_argument("--dataset", choices=DATASETS, default="mnist",
                       help="training data: the book's MNIST or Fashion-MNIST, found locally or "
                            "downloaded (see `dlkit data`) (default: %(default)s)")
        p.add_argument("--data-root", metavar="DIR", default=None,
                       help="data folder holding <dataset>/*.gz (default: $DLKIT_DATA_DIR, "
                            "else the user cache; Debian's /usr/share/datasets/fashion-mnist "
                            "is also searched)")
        p.add_argument("--backend", choices=("numba", "numpy"), default="numba",
                       help="layers to train with: the Numba kernels, or the plain-NumPy "
                            "reference layers of the book (slower; for comparison) "
                            "(default: %(default)s)")


#: command -> (experiment, help, description, default --out, the command's own option or None
#: as (name, help)); the option overrides the experiment's setting of the same name.
_SINGLE = {
    "histograms": (
        "activation_histograms",
        "activation histograms of 5 layers for 7 weight scales (no training)",
        "Forward 1000 x 100 N(0, 1) input through 5 layers of 100 units for "
        "sigmoid (sigma = 1, 0.01, Xavier), tanh (Xavier) and ReLU (sigma = 0.01, "
        "Xavier, He) and draw each layer's histogram (one row per configuration).",
        None,
    ),
    "init-compare": (
        "init_compare",
        "train 784-100x4-10 ReLU from std=0.01, Xavier and He; loss curves",
        "Train a 784-100-100-100-100-10 ReLU network with SGD (lr 0.01, batch 128) "
        "from three initial weight scales (std 0.01, Xavier, He) and plot the "
        "training loss per iteration (smoothed), with final accuracies.",
        ("iterations", "SGD steps per network (default: 2000, the book's; 300 with --quick)"),
    ),
    "batchnorm": (
        "batchnorm_compare",
        "with vs without BatchNorm for 16 weight scales; the book's 4x4 grid",
        "Train a network of 5 hidden layers of 100 ReLU units on 1000 samples "
        "(SGD lr 0.01, batch 100) from 16 weight scales logspace(0, -4, 16), with "
        "and without Batch Normalization; plot accuracy per epoch (4x4 grid) and "
        "final accuracy against the scale.",
        ("epochs", "epochs per network (default: 20, the book's; 5 with --quick)"),
    ),
    "symmetry": (
        "symmetry",
        "all-zero / constant vs random initial weights: do hidden units stay identical?",
        "Train a small sigmoid network from all-zero, constant and Xavier initial "
        "weights and measure, after every step, how different the units of each "
        "hidden layer are (0 = identical).",
        ("steps", "SGD steps per network (default: 200; 60 with --quick)"),
    ),
}


def add_parser(sub) -> None:
    """Register the experiments' commands on the ``sub`` subparsers object."""
    p = sub.add_parser(
        "reproduce",
        help="run every experiment of the lesson: figures, results.json, report.md",
        description="Run all four experiments of Deep Learning from Scratch 6.2-6.3 (symmetry, "
                    "activation histograms, initialization compared by training, Batch "
                    "Normalization against the weight scale) with the book's settings, on "
                    "several seeds, and write one PNG per figure, results.json with every "
                    "number and report.md stating each claim of the lesson, the numbers "
                    "behind it and PASS/FAIL. The book's settings take about a minute per "
                    "seed on two cores; --quick takes seconds.",
    )
    _common(p, "results")
    p.set_defaults(func=_reproduce)

    for command, (experiment, help_, description, option) in _SINGLE.items():
        p = sub.add_parser(command, help=help_, description=description)
        _common(p, f"results/{command}", data=experiment != "activation_histograms")
        overrides: tuple[str, ...] = ()
        if option is not None:
            name, option_help = option
            p.add_argument(f"--{name}", type=positive_int, default=None, help=option_help)
            overrides = (name,)
        p.set_defaults(func=_single, experiment=experiment, overrides=overrides)


def _load(args):
    """The dataset as (x_train, t_train, x_test, t_test), or None after printing why not."""
    from dlkit.experiments.reproduce import load_data

    try:
        return load_data(args.dataset, root=args.data_root)
    except (OSError, ValueError) as exc:  # not found, download failed, corrupted files
        print(f"dlkit: cannot load {args.dataset!r}:\n{exc}", file=sys.stderr)
        return None


def _seeds(args) -> list[int]:
    if args.seeds is not None:
        return list(args.seeds)
    return [0] if args.quick else [0, 1, 2]


def _finish(results, seconds, args) -> int:
    from dlkit.experiments.claims import evaluate_claims
    from dlkit.experiments.reproduce import write_outputs

    meta = {
        "dataset": getattr(args, "dataset", "none (no training)"),
        "seeds": _seeds(args),
        "settings": "quick (reduced)" if args.quick else "the book's",
        "backend": getattr(args, "backend", "numpy (no training)"),
        "seconds": {name: round(s, 2) for name, s in seconds.items()},
    }
    claims = evaluate_claims(results)
    written = write_outputs(results, args.out, meta, claims)
    for c in claims:
        print(f"{c.verdict}  {sum(c.held)}/{len(c.held)} seeds  {c.statement}")
    print(f"{sum(c.passed for c in claims)} of {len(claims)} claims PASS; "
          f"{sum(seconds.values()):.1f} s of experiments")
    for path in written:
        print(f"wrote {path}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from dlkit.experiments.reproduce import run_all

    data = _load(args)
    if data is None:
        return 1
    results, seconds = run_all(data, seeds=_seeds(args), quick=args.quick, backend=args.backend,
                               dataset=args.dataset)
    return _finish(results, seconds, args)


def _single(args: argparse.Namespace) -> int:
    import time

    from dlkit.experiments.reproduce import run_experiment

    data, extra = None, {}
    if args.experiment != "activation_histograms":
        data = _load(args)
        if data is None:
            return 1
        extra = {"backend": args.backend, "dataset": args.dataset}
    overrides = {k: getattr(args, k) for k in args.overrides if getattr(args, k) is not None}
    start = time.perf_counter()
    result = run_experiment(args.experiment, data, seeds=_seeds(args), quick=args.quick,
                            **extra, **overrides)
    return _finish({args.experiment: result},
                   {args.experiment: time.perf_counter() - start}, args)
