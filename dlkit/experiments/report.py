"""``report.md``: the lesson's claims, the numbers behind each, PASS/FAIL, and the figures."""

from __future__ import annotations

import os

import numpy as np

from dlkit.experiments.claim import LESSON, OBSERVATION
from dlkit.experiments.claims import Claim, final_loss
from dlkit.experiments.claims_slides import LEARNED_ACC
from dlkit.experiments.results import _write_atomic

__all__ = ["render_report", "write_report"]

_TITLES = {
    "symmetry": "1. Symmetry: why the initial weights must not all be equal",
    "activation_histograms": "2. Activation histograms: the initial weight scale, layer by layer",
    "gradient_flow": "3. Gradients layer by layer: do they vanish?",
    "init_compare": "4. Initialization compared by training",
    "init_activations": "5. Xavier for sigmoid, He for ReLU?",
    "batchnorm_compare": "6. Batch Normalization against the initial weight scale",
    "batchnorm_speed": "7. Does Batch Normalization learn faster, with larger learning rates?",
    "overfitting": "8. Overfitting: does Batch Normalization suppress it? Do small weights? "
                   "Weight decay?",
}

_HOW_TO_READ = (
    "How to read it: each numbered claim is a statement turned into a measurement with a "
    "threshold; it PASSes when it held on every seed, and its line gives the numbers per seed "
    "(in the order of the seeds). *Lesson* claims are what the slides or the chapter say; "
    "*observations* are the report's own statements, measured beside them (where the "
    "measurements say something the slides do not), and are counted apart. A FAIL is a "
    "result, not an error: a lesson claim that does not hold on this data is reported as not "
    "holding. Notes under a claim explain a result that looks surprising.")


def _settings_line(result) -> str:
    s = result.settings
    keep = [k for k in s if k not in ("configs", "schemes", "inits", "weight_scales")]
    return ", ".join(f"{k} = {_setting(s[k])}" for k in keep)


def _setting(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)


def _mean_sd(values, spec=".3f") -> str:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return format(float(values[0]), spec)
    return f"{values.mean():{spec}} ± {values.std():{spec}}"


def _init_activations_table(result) -> list[str]:
    """The table activation × initializer of final losses (mean ± sd over seeds)."""
    rows = result.data["activations"]
    labels = list(next(iter(rows.values())))
    lr = result.settings["lr"]
    lines = ["Final training loss (mean of the last 10% of the iterations; mean ± sd over "
             "seeds), each row at its own learning rate:", "",
             "| activation | SGD lr | " + " | ".join(labels) + " |",
             "|---|---|" + "---|" * len(labels)]
    for activation, schemes in rows.items():
        cells = [_mean_sd(final_loss(schemes[label]["loss"])) for label in labels]
        name = "ReLU" if activation == "relu" else activation
        row_lr = lr[activation] if isinstance(lr, dict) else lr
        lines.append(f"| {name} | {row_lr:g} | " + " | ".join(cells) + " |")
    lines += ["", "The ReLU row runs at the book's learning rate 0.01. At that rate no sigmoid "
              "network leaves chance in the book's 2000 steps, so the sigmoid row runs at the "
              "rate chosen by `python -m dlkit.experiments.calibrate` (the sweep, the rule and "
              "its seed are printed there): a comparison of initializers needs networks that "
              "learn."]
    return lines + [""]


def _overfitting_table(result) -> list[str]:
    lines = ["After the last epoch (mean ± sd over seeds; test accuracy on the whole test "
             "set; the gap only for networks that learned):", "",
             "| configuration | training accuracy | test accuracy | gap |",
             "|---|---|---|---|"]
    for label, d in result.data["configs"].items():
        train, test = d["train_acc"][:, -1], d["final_test_acc"]
        learned = train >= LEARNED_ACC
        gap = (_mean_sd(train - test) if learned.all() else
               "did not learn" if not learned.any() else
               f"{_mean_sd((train - test)[learned])} ({learned.sum()} seeds that learned)")
        lines.append(f"| {label} | {_mean_sd(train)} | {_mean_sd(test)} | {gap} |")
    return lines + [""]


def _speed_table(result) -> list[str]:
    s = result.settings
    lines = [f"Training steps to reach {s['target_acc']:.0%} training accuracy, per seed "
             f"(— : not within {s['epochs']} epochs):", "",
             "| learning rate | with BatchNorm | without |", "|---|---|---|"]
    for j, lr in enumerate(result.data["lrs"]):
        cells = [" ".join("—" if not np.isfinite(v) else f"{v:.0f}"
                          for v in result.data[key]["steps_to_target"][:, j])
                 for key in ("batchnorm", "plain")]
        lines.append(f"| {lr:g} | {cells[0]} | {cells[1]} |")
    return lines + [""]


#: experiment -> the table its section shows before its figures
_TABLES = {
    "init_activations": _init_activations_table,
    "batchnorm_speed": _speed_table,
    "overfitting": _overfitting_table,
}


def _verdict(c: Claim) -> str:
    return f"**{c.verdict}**" if c.source == LESSON else f"*{c.verdict}*"


def render_report(results: dict, claims: list[Claim], figures: dict[str, list[str]],
                  meta: dict) -> str:
    """The report as Markdown.

    results : name -> Result; claims : from ``evaluate_claims``; figures : experiment name ->
    PNG file names (relative to the report); meta : plain facts for the header (dataset,
    seeds, mode, seconds per experiment, ...).
    """
    lesson = [c for c in claims if c.source == LESSON]
    own = [c for c in claims if c.source == OBSERVATION]
    lines = [
        "# dlkit reproduce: weight initialization and Batch Normalization",
        "",
        "Deep Learning from Scratch, 6.2–6.3, reproduced with dlkit. A claim PASSes when it "
        "held on every seed; the numbers are per seed, in the order of the seeds.",
        "",
        _HOW_TO_READ,
        "",
    ]
    for key, value in meta.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = " ".join(str(v) for v in value)
        lines.append(f"- **{key}**: {value}")
    lines += ["", f"**{sum(c.passed for c in lesson)} of {len(lesson)} claims of the lesson "
                  f"PASS**; {sum(c.passed for c in own)} of {len(own)} of the report's own "
                  f"observations hold.", "",
              "| # | claim | source | seeds held | verdict |", "|---|---|---|---|---|"]
    for i, c in enumerate(claims, 1):
        cell = c.statement.replace("|", "\\|")  # a bare | would end the table cell
        lines.append(f"| {i} | {cell} | {c.source} | {sum(c.held)}/{len(c.held)} | "
                     f"{_verdict(c)} |")
    lines.append("")
    numbered = list(enumerate(claims, 1))
    for name, title in _TITLES.items():
        if name not in results:
            continue
        lines += [f"## {title}", "", f"Settings: {_settings_line(results[name])}.", ""]
        for i, c in numbered:
            if c.experiment == name:
                kind = "" if c.source == LESSON else "*Observation (not the slides' claim):* "
                lines += [f"{i}. {_verdict(c)} ({sum(c.held)}/{len(c.held)} seeds) — "
                          f"{kind}{c.statement}  ", f"   Measured: {c.evidence}.", ""]
                if c.note:
                    lines += [f"   *Note:* {c.note}", ""]
        if name in _TABLES:
            lines += _TABLES[name](results[name])
        for png in figures.get(name, []):
            lines += [f"![{os.path.splitext(png)[0]}]({png})", ""]
    return "\n".join(lines)


def write_report(path, results, claims, figures, meta) -> None:
    """Write :func:`render_report` to ``path`` (UTF-8, atomically)."""
    _write_atomic(path, render_report(results, claims, figures, meta))
