"""``report.md``: the lesson's claims, the numbers behind each, PASS/FAIL, and the figures."""

from __future__ import annotations

import os

from dlkit.experiments.claims import Claim
from dlkit.experiments.results import _write_atomic

__all__ = ["render_report", "write_report"]

_TITLES = {
    "symmetry": "1. Symmetry: why the initial weights must not all be equal",
    "activation_histograms": "2. Activation histograms: the initial weight scale, layer by layer",
    "init_compare": "3. Initialization compared by training",
    "batchnorm_compare": "4. Batch Normalization against the initial weight scale",
}


def _settings_line(result) -> str:
    s = result.settings
    keep = [k for k in s if k not in ("configs", "schemes", "inits", "weight_scales")]
    return ", ".join(f"{k} = {s[k]}" for k in keep)


def render_report(results: dict, claims: list[Claim], figures: dict[str, list[str]],
                  meta: dict) -> str:
    """The report as Markdown.

    results : name -> Result; claims : from ``evaluate_claims``; figures : experiment name ->
    PNG file names (relative to the report); meta : plain facts for the header (dataset,
    seeds, mode, seconds per experiment, ...).
    """
    n_pass = sum(c.passed for c in claims)
    lines = [
        "# dlkit reproduce: weight initialization and Batch Normalization",
        "",
        "Deep Learning from Scratch, 6.2–6.3, reproduced with dlkit. A claim PASSes when it "
        "held on every seed; the numbers are per seed, in the order of the seeds.",
        "",
    ]
    for key, value in meta.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = " ".join(str(v) for v in value)
        lines.append(f"- **{key}**: {value}")
    lines += ["", f"**{n_pass} of {len(claims)} claims PASS.**", "",
              "| # | claim | seeds held | verdict |", "|---|---|---|---|"]
    for i, c in enumerate(claims, 1):
        cell = c.statement.replace("|", "\\|")  # a bare | would end the table cell
        lines.append(f"| {i} | {cell} | {sum(c.held)}/{len(c.held)} | **{c.verdict}** |")
    lines.append("")
    numbered = list(enumerate(claims, 1))
    for name, title in _TITLES.items():
        if name not in results:
            continue
        lines += [f"## {title}", "", f"Settings: {_settings_line(results[name])}.", ""]
        for i, c in numbered:
            if c.experiment == name:
                lines += [f"{i}. **{c.verdict}** ({sum(c.held)}/{len(c.held)} seeds) — "
                          f"{c.statement}  ", f"   Measured: {c.evidence}.", ""]
        for png in figures.get(name, []):
            lines += [f"![{os.path.splitext(png)[0]}]({png})", ""]
    return "\n".join(lines)


def write_report(path, results, claims, figures, meta) -> None:
    """Write :func:`render_report` to ``path`` (UTF-8, atomically)."""
    _write_atomic(path, render_report(results, claims, figures, meta))
