"""The student's spread statistics against the ranges dlkit's own experiment gives."""

from __future__ import annotations

import numpy as np

from dlkit.lab.locate import say

__all__ = ["MARGIN", "expected_range", "spread_table"]

#: How far beyond dlkit's range over seeds a value still counts as expected: this share of
#: the range's largest magnitude, plus an absolute 0.001 (an implementation that draws its
#: weights in another order gives other numbers of the same spread).
MARGIN = 0.05


def expected_range(values) -> tuple[float, float]:
    """(low, high): the min and max of ``values`` over seeds, widened by :data:`MARGIN`."""
    values = np.asarray(values, dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    pad = MARGIN * max(abs(lo), abs(hi)) + 1e-3
    return lo - pad, hi + pad


def spread_table(yours: dict, reference, keys=("mean", "std", "saturated", "zero")) -> str:
    """A table of the last layer's statistics: the student's against the expected ranges.

    yours: {configuration name: [spread_stats of the last layer, one dict per seed]};
    reference: the Result of :func:`dlkit.experiments.histograms.activation_histograms` over
    the same seeds.  Each line ends in "ok" or "OUTSIDE" ("範囲外" after
    ``lab.setup(..., lang="ja")``).
    """
    lines = [say(f"{'configuration':18} {'statistic':10} {'yours':>17}   {'expected':>17}",
                 f"{'設定':16} {'統計量':7} {'あなた':>14}   {'期待される範囲':>10}")]
    for name, stats in yours.items():
        ref = reference.data["configs"][name]
        for key in keys:
            if key == "saturated" and ref["activation"] == "relu":
                # the handout's spread_stats counts ReLU's flat part (z = 0) under "zero" and
                # gives 0.0 here; dlkit's experiment counts it under both
                continue
            mine = [float(s[key]) for s in stats]
            lo, hi = expected_range(ref[key][:, -1])
            ok = all(lo <= v <= hi for v in mine)
            lines.append(f"{name:18} {key:10} {min(mine):8.4f}–{max(mine):<8.4f}   "
                         f"{lo:8.4f}–{hi:<8.4f} {'ok' if ok else say('OUTSIDE', '範囲外')}")
    return "\n".join(lines)
