"""``dlkit reproduce`` and one command per experiment (``dlkit histograms``, ...).

Each command runs experiment(s), writes one PNG per figure, ``results.json`` and ``report.md``
into ``--out``, and prints the lesson's claims with PASS/FAIL. A claim that FAILs is a result,
not an error: the exit status is 0 unless the data cannot be loaded or a run fails (1; then
nothing is written). Bad options exit with status 2 before any work starts.
"""

from __future__ import annotations

import argparse
import sys

from dlkit.argtypes import fraction, positive_float, positive_int, seed
from dlkit.experiments import NAMES

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
    p.add_argument("--jobs", metavar="N", type=positive_int, default=None,
                   help="worker processes running the independent runs (seeds, "
                        "configurations) side by side, one BLAS thread each; the numbers are "
                        "the same for every N (default: all cores)")
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


def _int_option(name: str, text: str):
    return (f"--{name}", {"type": positive_int, "help": text, "dest": name})


#: command -> (experiment, help, description, default --out, the command's own options as
#: (flag, add_argument keywords)); an option given overrides the experiment's setting of the
#: same name (its ``dest``).
_SINGLE = {
    "histograms": (
        "activation_histograms",
        "activation histograms of 5 layers for 7 weight scales (no training)",
        "Forward 1000 x 100 N(0, 1) input through 5 layers of 100 units for "
        "sigmoid (sigma = 1, 0.01, Xavier), tanh (Xavier) and ReLU (sigma = 0.01, "
        "Xavier, He) and draw each layer's histogram (one row per configuration).",
        (),
    ),
    "gradients": (
        "gradient_flow",
        "the gradients of every layer for the 7 histogram configurations: vanishing?",
        "Train a 784-100x5-10 network for each configuration of the histograms (sigmoid "
        "sigma = 1, 0.01, Xavier; tanh Xavier; ReLU sigma = 0.01, Xavier, He) and measure, "
        "at initialization and after training, the RMS of the gradient passed back to each "
        "hidden layer and of each weight gradient; log-scale figure, one panel per "
        "activation.",
        (_int_option("steps", "SGD steps between the two measurements (default: 200; 50 "
                              "with --quick)"),),
    ),
    "init-compare": (
        "init_compare",
        "train 784-100x4-10 ReLU from std=0.01, Xavier and He; loss curves",
        "Train a 784-100-100-100-100-10 ReLU network with SGD (lr 0.01, batch 128) "
        "from three initial weight scales (std 0.01, Xavier, He) and plot the "
        "training loss per iteration (smoothed), with final accuracies.",
        (_int_option("iterations", "SGD steps per network (default: 2000, the book's; 300 "
                                   "with --quick)"),),
    ),
    "init-activations": (
        "init_activations",
        "the init comparison with sigmoid and with ReLU: Xavier for sigmoid, He for ReLU?",
        "Run the initialization comparison (std 0.01, Xavier, He; 784-100x4-10, SGD, batch "
        "128) once with sigmoid and once with ReLU: a table activation x initializer of "
        "final losses, and the loss curves. ReLU at the book's lr 0.01; sigmoid at the rate "
        "chosen by `python -m dlkit.experiments.calibrate` (at 0.01 no sigmoid network "
        "learns).",
        (_int_option("iterations", "SGD steps per network (default: 2000, the book's; 300 "
                                   "with --quick)"),),
    ),
    "batchnorm": (
        "batchnorm_compare",
        "with vs without BatchNorm for 16 weight scales; the book's 4x4 grid",
        "Train a network of 5 hidden layers of 100 ReLU units on 1000 samples "
        "(SGD lr 0.01, batch 100) from 16 weight scales logspace(0, -4, 16), with "
        "and without Batch Normalization; plot accuracy per epoch (4x4 grid) and "
        "final accuracy against the scale.",
        (_int_option("epochs", "epochs per network (default: 20, the book's; 5 with "
                               "--quick)"),),
    ),
    "batchnorm-speed": (
        "batchnorm_speed",
        "with vs without BatchNorm at several learning rates: steps to a target accuracy",
        "Train the network of `dlkit batchnorm` (1000 samples, 5 hidden layers of 100 ReLU "
        "units, batch 100) from He's initial weights with and without Batch Normalization at "
        "each learning rate of a sweep, and count the steps until the training accuracy "
        "reaches the target.",
        (_int_option("epochs", "epochs per network (default: 20; 5 with --quick)"),
         ("--lrs", {"type": positive_float, "nargs": "+", "metavar": "LR", "dest": "lrs",
                    "help": "learning rates of the sweep (default: 0.01 0.03 0.1 0.3 1)"}),
         ("--target-acc", {"type": fraction, "metavar": "ACC", "dest": "target_acc",
                           "help": "training accuracy to reach, in (0, 1] (default: 0.8)"})),
    ),
    "overfitting": (
        "overfitting",
        "the book's overfitting setting: BatchNorm, small weights, weight decay",
        "Train 6 hidden layers of 100 ReLU units on only 300 samples (SGD lr 0.01, batch "
        "100, 200 epochs): with Batch Normalization from He's initial weights and from "
        "sigma = 0.01, without it from He's, with the book's weight decay (lambda = 0.1) "
        "and from the smaller scales 0.1 and 0.01; plot training and test accuracy and the "
        "gap between them.",
        (_int_option("epochs", "epochs per network (default: 200; 50 with --quick)"),),
    ),
    "symmetry": (
        "symmetry",
        "all-zero / constant vs random initial weights: do hidden units stay identical?",
        "Train a small sigmoid network from all-zero, constant and Xavier initial "
        "weights and measure, after every step, how different the units of each "
        "hidden layer are (0 = identical).",
        (_int_option("steps", "SGD steps per network (default: 200; 60 with --quick)"),),
    ),
}


def add_parser(sub) -> None:
    """Register the experiments' commands on the ``sub`` subparsers object."""
    p = sub.add_parser(
        "reproduce",
        help="run every experiment of the lesson: figures, results.json, report.md",
        description="Run the experiments of Deep Learning from Scratch 6.2-6.3 (symmetry, "
                    "activation histograms, gradients layer by layer, initialization compared "
                    "by training and per activation, Batch Normalization against the weight "
                    "scale, its learning speed and overfitting) with the book's settings, on "
                    "several seeds, in worker processes on every core, and write one PNG per "
                    "figure, results.json with every number and report.md stating each claim "
                    "of the lesson, the numbers behind it and PASS/FAIL. --quick takes "
                    "seconds.",
    )
    _common(p, "results")
    p.add_argument("--experiments", metavar="NAME", nargs="+", choices=NAMES, default=None,
                   help="run only these experiments (default: all): " + ", ".join(NAMES))
    p.set_defaults(func=_reproduce)

    for command, (experiment, help_, description, options) in _SINGLE.items():
        p = sub.add_parser(command, help=help_, description=description)
        _common(p, f"results/{command}", data=experiment != "activation_histograms")
        for flag, kwargs in options:
            p.add_argument(flag, default=None, **kwargs)
        p.set_defaults(func=_single, experiment=experiment,
                       overrides=tuple(kwargs["dest"] for _, kwargs in options))


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


def _run(args, names, data, overrides) -> int:
    """Plan (every setting checked), run, write; 1 without writing anything if a run fails."""
    import time

    from dlkit.experiments.claims import evaluate_claims
    from dlkit.experiments.parallel import execute
    from dlkit.experiments.reproduce import default_jobs, plan_all, write_outputs
    from dlkit.experiments.runs import RunError

    jobs = args.jobs or default_jobs()
    extra = {"backend": args.backend, "dataset": args.dataset} if data is not None else {}
    try:
        plans, data = plan_all(data, names, seeds=_seeds(args), quick=args.quick,
                               overrides=overrides, **extra)
    except ValueError as exc:
        print(f"dlkit: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        results, seconds = execute(plans, data, jobs=jobs, desc=args.command)
    except RunError as exc:
        print(f"dlkit: {exc}\nNothing was written.", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    meta = {
        "dataset": getattr(args, "dataset", "none (no training)"),
        "seeds": _seeds(args),
        "settings": "quick (reduced)" if args.quick else "the book's",
        "backend": getattr(args, "backend", "numpy (no training)"),
        "jobs": jobs,
        "wall seconds": round(wall, 2),
        "seconds of runs": {name: round(s, 2) for name, s in seconds.items()},
    }
    claims = evaluate_claims(results)
    written = write_outputs(results, args.out, meta, claims, jobs=jobs)
    for c in claims:
        kind = "" if c.source == "lesson" else "(observation) "
        print(f"{c.verdict}  {sum(c.held)}/{len(c.held)} seeds  {kind}{c.statement}")
    lesson = [c for c in claims if c.source == "lesson"]
    own = [c for c in claims if c.source != "lesson"]
    print(f"{sum(c.passed for c in lesson)} of {len(lesson)} claims of the lesson PASS, "
          f"{sum(c.passed for c in own)} of {len(own)} of the report's own observations hold; "
          f"{wall:.1f} s on {jobs} worker(s), {sum(seconds.values()):.1f} s of runs")
    for path in written:
        print(f"wrote {path}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    data = _load(args)
    if data is None:
        return 1
    return _run(args, args.experiments or list(NAMES), data, {})


def _single(args: argparse.Namespace) -> int:
    data = None
    if args.experiment != "activation_histograms":
        data = _load(args)
        if data is None:
            return 1
    overrides = {k: getattr(args, k) for k in args.overrides if getattr(args, k) is not None}
    return _run(args, [args.experiment], data, overrides)
