"""`dlkit reproduce` and the experiment commands, through the real console script."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlkit.experiments.results import load_results

FIGURES = ["symmetry", "activation_histograms", "gradient_flow", "init_compare",
           "init_activations", "batchnorm_grid", "batchnorm_summary", "batchnorm_speed",
           "overfitting"]
#: the experiments behind the book's figures: their claims hold even with the quick settings
BOOK_FIGURES = {"symmetry", "activation_histograms", "init_compare", "batchnorm_compare"}


def _dlkit() -> str:
    script = Path(sys.executable).with_name("dlkit")
    found = str(script) if script.exists() else shutil.which("dlkit")
    assert found, "the `dlkit` console script is not installed (pip install -e .)"
    return found


def _run(*args, timeout=300):
    return subprocess.run([_dlkit(), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONHASHSEED": "0"})


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, fashion_mnist_dir):
    out = tmp_path_factory.mktemp("reproduce")
    proc = _run("reproduce", "--quick", "--dataset", "fashion-mnist", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_reproduce_quick_writes_figures_results_and_report(quick_run):
    out, proc = quick_run
    for name in FIGURES:
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    results = load_results(out / "results.json")
    assert list(results) == ["symmetry", "activation_histograms", "gradient_flow",
                             "init_compare", "init_activations", "batchnorm_compare",
                             "batchnorm_speed", "overfitting"]
    assert all(r.seeds == [0] for r in results.values())  # --quick: one seed by default
    assert results["init_compare"].settings["dataset"] == "fashion-mnist"
    payload = json.loads((out / "results.json").read_text())
    claims = payload["claims"]
    assert len(claims) == 37 and payload["meta"]["settings"] == "quick (reduced)"
    lesson = [c for c in claims if c["source"] == "lesson"]
    assert len(lesson) == 28  # the other 9 are the report's own observations
    assert set(payload["meta"]["seconds of runs"]) == set(results)  # summed over its runs
    assert payload["meta"]["jobs"] == len(os.sched_getaffinity(0))  # all cores by default
    report = (out / "report.md").read_text()
    for c in claims:
        verdict = "PASS" if c["passed"] else "FAIL"
        verdict = f"**{verdict}**" if c["source"] == "lesson" else f"*{verdict}*"
        assert c["statement"] in report and c["evidence"] in report
        cell = c["statement"].replace("|", "\\|")  # escaped inside the Markdown table
        assert (f"{cell} | {c['source']} | {sum(c['held'])}/{len(c['held'])} | {verdict}"
                in report)
        assert f"{c['statement']}" in proc.stdout
    for name in FIGURES:
        assert f"({name}.png)" in report  # the report shows each figure
    # the quick settings reproduce every claim behind the book's figures on seed 0 (the
    # slides' further claims are checked with the book's settings in the slow tests)
    book = [c for c in lesson if c["experiment"] in BOOK_FIGURES
            and "learns faster at the book's" not in c["statement"]]
    assert len(book) == 16 and [c["statement"] for c in book if not c["passed"]] == []
    assert (f"{sum(c['passed'] for c in lesson)} of 28 claims of the lesson PASS, "
            f"{sum(c['passed'] for c in claims) - sum(c['passed'] for c in lesson)} of 9 of "
            f"the report's own observations hold") in proc.stdout
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no staging left


def test_reproduce_quick_is_quiet_without_a_terminal(quick_run):
    _, proc = quick_run
    assert "it/s" not in proc.stderr and "step/s" not in proc.stderr and "%|" not in proc.stderr


def test_histograms_command_needs_no_data(tmp_path, capsys):
    # in-process (the console script's start-up is covered above): `dlkit histograms`
    from dlkit.cli import main

    assert main(["histograms", "--seeds", "4", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "activation_histograms.png").exists()
    results = load_results(tmp_path / "results.json")
    assert results["activation_histograms"].seeds == [4]
    assert "7 of 7 claims of the lesson PASS" in capsys.readouterr().out


def test_every_option_of_every_command_is_explained():
    from dlkit.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("reproduce", "histograms", "gradients", "init-compare", "init-activations",
                 "batchnorm", "batchnorm-speed", "overfitting", "symmetry"):
        p = sub.choices[name]
        assert p.description, name
        for action in p._actions:
            if action.dest != "help":
                assert action.help and len(action.help) > 15, (name, action.dest)
    proc = _run("batchnorm", "--help")
    assert proc.returncode == 0 and "--epochs" in proc.stdout and "--seeds" in proc.stdout


def test_bad_options_are_refused_with_a_clear_message(tmp_path):
    proc = _run("reproduce", "--seeds", "-1", "--out", str(tmp_path))
    assert proc.returncode == 2 and "expected an integer seed >= 0, got -1" in proc.stderr
    proc = _run("init-compare", "--iterations", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "expected a positive integer, got 0" in proc.stderr
    proc = _run("reproduce", "--dataset", "cifar", "--out", str(tmp_path))
    assert proc.returncode == 2 and "invalid choice: 'cifar'" in proc.stderr
    proc = _run("reproduce", "--experiments", "histogram", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--experiments: invalid choice: 'histogram'" in proc.stderr
    proc = _run("batchnorm-speed", "--target-acc", "1.5", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "--target-acc: expected a number in (0, 1], got 1.5" in proc.stderr
    proc = _run("batchnorm-speed", "--lrs", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--lrs: expected at least one argument" in proc.stderr
    proc = _run("batchnorm-speed", "--lrs", "0.1", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--lrs: expected a positive number, got 0" in proc.stderr
    proc = _run("overfitting", "--epochs", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--epochs: expected a positive integer, got 0" in proc.stderr
    proc = _run("reproduce", "--jobs", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--jobs: expected a positive integer, got 0" in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing written


def _boom(data, **kwargs):
    raise RuntimeError(f"boom at seed {kwargs['seed']}")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_failing_run_ends_the_command_and_writes_nothing(tmp_path, capsys, monkeypatch,
                                                           jobs):
    from dlkit.cli import main
    from dlkit.experiments import histograms

    (tmp_path / "report.md").write_text("an earlier report")
    monkeypatch.setattr(histograms, "_run", _boom)  # workers are forked: they see it too
    assert main(["histograms", "--seeds", "4", "--jobs", jobs, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "activation_histograms run _boom(seed=4, activation='sigmoid'" in err
    assert "RuntimeError: boom at seed 4" in err and "Nothing was written." in err
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
    assert (tmp_path / "report.md").read_text() == "an earlier report"
