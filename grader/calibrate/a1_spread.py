"""Calibrate a1's "lesson claims" thresholds on a submission's init_weight/layer_activations.

    python -m grader.calibrate.a1_spread SUBMISSION [--seeds 0-29]

Imports the submission's ``a1_initialization.initializers`` in this process: run it only on
trusted code (solutions/, tests/slip_cases.py ...).  For each seed: x ~ N(0, 1) of
1000×100, 5 layers of 100 units (the lesson's histogram experiment), and prints the range
over seeds of the numbers the checks in grader/checks/test_a1.py compare with thresholds.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("submission")
    p.add_argument("--seeds", type=int, default=30, help="seeds 0 .. N-1")
    args = p.parse_args(argv)
    sys.path.insert(0, args.submission)
    from a1_initialization.initializers import init_weight, layer_activations

    cases = {
        "sigmoid σ=1: min over layers of the saturated fraction": ("sigmoid", 1.0, "sat"),
        "relu He: std(layer 5) / std(layer 1)": ("relu", "he", "ratio"),
        "relu Xavier: std(layer 5) / std(layer 1)": ("relu", "xavier", "ratio"),
        "relu σ=0.01: std(layer 5) / std(layer 1)": ("relu", 0.01, "ratio"),
    }
    for label, (activation, scheme, what) in cases.items():
        values = []
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            x = rng.standard_normal((1000, 100))
            weights = [init_weight(100, 100, scheme, rng) for _ in range(5)]
            zs = layer_activations(x, weights, activation)
            if what == "sat":
                values.append(min(float(np.mean((z < 0.1) | (z > 0.9))) for z in zs))
            else:
                values.append(float(np.std(zs[4]) / np.std(zs[0])))
        print(f"{label}: min {min(values):.3g} max {max(values):.3g} "
              f"(seeds 0-{args.seeds - 1})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
