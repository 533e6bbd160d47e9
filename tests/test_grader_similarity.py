"""Copying is flagged for the TA and never penalized (grader.similarity).

Real files throughout: dlkit's own kernels copied into a4, the model answers (also with the
slips of tests/slip_cases.py), the handout's stubs, a layer in the book's style
(tests/grader_cases/similarity/book_style).  The last test
grades a copy of dlkit's kernel file with the real grader (a subprocess): full points, flagged.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import slip_cases

from dlkit.tasks import TASKS
from grader import similarity
from grader.calibrate import similarity as calibration
from grader.scoring.runner import load_points

REPO = Path(__file__).resolve().parents[1]
BOOK_STYLE = REPO / "tests" / "grader_cases" / "similarity" / "book_style"


def _submission(tmp_path: Path, aid: str, text: str, name: str = "sub") -> Path:
    root = tmp_path / name
    (root / TASKS[aid].folder).mkdir(parents=True)
    (root / TASKS[aid].path).write_text(text, encoding="utf-8")
    return root


def test_dlkits_kernel_file_copied_into_a4_is_flagged_with_its_lines(tmp_path):
    kernels = (REPO / "dlkit" / "kernels" / "batchnorm.py").read_text(encoding="utf-8")
    root = _submission(tmp_path, "a4", kernels)
    (flag,) = [f for f in similarity.reference_flags(root, "a4")
               if f["with"] == "dlkit/kernels/batchnorm.py"]
    assert flag["similarity"] == 1.0 and flag["file"] == "a4_numba/kernels.py"
    n_lines = kernels.count("\n")
    assert flag["lines"][0][0] == 1 and flag["lines"][-1][1] >= n_lines - 1
    assert "def batchnorm_forward_train" in flag["overlap"] or "more lines" in flag["overlap"]


def test_renamed_copy_is_still_flagged(tmp_path):
    """Names, comments and layout do not hide a copy (tokens are normalized)."""
    text = (REPO / "dlkit" / "kernels" / "batchnorm.py").read_text(encoding="utf-8")
    renamed = (text.replace("invstd", "inv_sigma").replace("xhat", "x_norm")
               .replace("dgamma", "grad_g").replace("# ", "# note: "))
    root = _submission(tmp_path, "a4", renamed)
    sims = {f["with"]: f["similarity"] for f in similarity.reference_flags(root, "a4")}
    assert sims["dlkit/kernels/batchnorm.py"] > 0.9


@pytest.mark.parametrize("aid", sorted(TASKS))
def test_starter_code_is_not_overlap(tmp_path, aid):
    """The untouched stub: nothing of it counts, against dlkit, the answers or a classmate."""
    stub = (REPO / "assignments" / TASKS[aid].path).read_text(encoding="utf-8")
    a, b = _submission(tmp_path, aid, stub, "a"), _submission(tmp_path, aid, stub, "b")
    assert similarity.reference_flags(a, aid) == []
    assert similarity.pairs({"a": a, "b": b}, aid) == []
    # without the stub as boilerplate the same two files would be identical
    mine = similarity.fingerprint("a", stub)
    assert similarity.compare(mine, similarity.fingerprint("b", stub))["similarity"] == 1.0


@pytest.mark.parametrize("case", ["a4_python_loops", "a1_relu_stats_wrong",
                                  "a3_predict_in_train_mode"])
def test_independent_work_against_dlkit_is_not_flagged(case, tmp_path):
    """The model answers (here with a slip) were written for the course, not copied from
    dlkit's modules."""
    flags = similarity.reference_flags(slip_cases.submission(case, tmp_path / case),
                                       slip_cases.task(case))
    assert not [f for f in flags if f["with"].startswith("dlkit/")], flags


def test_the_books_layer_is_flagged_against_dlkit_reference():
    """An a2 layer in the book's style (common/layers.py); dlkit.reference follows the book
    formula by formula, so the two overlap: flagged, for a TA to look at (the course's rule
    says whether the book's code may be used), never a penalty."""
    flags = similarity.reference_flags(BOOK_STYLE, "a2")
    assert [f["with"] for f in flags] == ["dlkit/reference/layers.py"]
    assert flags[0]["similarity"] > similarity.THRESHOLD


def test_the_model_answer_is_flagged_as_the_model_answer(tmp_path):
    root = tmp_path / "sub"
    shutil.copytree(REPO / "solutions" / "a2_batchnorm", root / "a2_batchnorm")
    flags = similarity.reference_flags(root, "a2")
    assert [(f["with"], f["similarity"]) for f in flags] == [
        ("solutions/a2_batchnorm/batchnorm.py", 1.0)]


def test_pairs_of_students_find_the_copy_and_only_it(tmp_path):
    # written independently of the model answer: dlkit's own kernels (0.09 – 0.21 overlap)
    honest = (REPO / "dlkit" / "kernels" / "batchnorm.py").read_text()
    other = (REPO / "solutions" / "a4_numba" / "kernels.py").read_text()
    copy = other.replace("Task 4, model answer", "My kernels").replace("mean[d]", "mu[d]")
    roots = {"ann": _submission(tmp_path, "a4", other, "ann"),
             "ben": _submission(tmp_path, "a4", copy, "ben"),
             "cat": _submission(tmp_path, "a4", honest, "cat")}
    found = similarity.pairs(roots, "a4")
    assert [(p["student"], p["other"]) for p in found] == [("ann", "ben")]
    assert found[0]["similarity"] > 0.9 and found[0]["lines"] and found[0]["lines_other"]
    assert similarity.pairs(roots, "a1") == []  # nobody handed in a1


# ------------------------------------------------------------------ calibration
# The flag's settings (similarity.NOISE, THRESHOLD, the stub as boilerplate) against correct
# answers written independently from the handout (tests/grader_cases/similarity/honest: the
# false alarms) and disguised copies of the model answers and of dlkit's code (the copies
# caught).  docs/instructors/similarity.md reports these rates; a change of the settings or
# of the cases that moves them fails here first.


@pytest.fixture(scope="module")
def measured() -> calibration.Measured:
    return calibration.measure()


def test_the_calibration_has_several_styles_per_task(measured):
    honest = {aid: [s.label for s in measured.honest if s.aid == aid] for aid in TASKS}
    assert all(len(labels) >= 3 for labels in honest.values()), honest
    assert {how for how in calibration.DISGUISES} == {
        "verbatim", "renamed", "reordered", "reformatted", "all three"}
    assert len(measured.copies) == 36 and len(measured.honest) == 17


def test_independently_written_answers_are_not_flagged(measured):
    """No false alarm: against the model answers and dlkit, nor between two of them (as
    classmates are compared), also for answers that follow the handout line by line."""
    alarms = [(s.label, s.other, s.value) for s in measured.honest + measured.pairs
              if s.value >= similarity.THRESHOLD]
    assert alarms == []


def test_disguised_copies_are_flagged(measured):
    """Every copy of a whole file is caught, renamed, reordered and reformatted; the one
    miss is dlkit's kernels with their helper functions pasted in by hand, which overlap
    dlkit as much as two honest a4 kernels overlap each other (the docs say so)."""
    missed = [(s.label, s.other) for s in measured.copies if s.value < similarity.THRESHOLD]
    assert missed == [("copies/a4_dlkit_inlined.py", "dlkit/kernels/batchnorm.py")]
    lowest = min(s.value for s in measured.copies if not s.label.startswith("copies/"))
    assert lowest >= 0.8


def test_copies_of_dlkits_own_kernels_are_flagged(measured):
    dlkit = {s.label: s.value for s in measured.copies if s.other == "dlkit/kernels/batchnorm.py"}
    assert len(dlkit) == 10 + 1  # two originals × five disguises, and the hand-made copy
    assert all(v >= similarity.THRESHOLD for k, v in dlkit.items() if "inlined" not in k)


def test_the_disguises_change_the_text_and_keep_the_api():
    """A disguised copy parses, keeps the names the grader calls and differs from the
    original in its text (that it still passes the public tests: the slow test below)."""
    for aid in TASKS:
        original = (REPO / "solutions" / TASKS[aid].path).read_text(encoding="utf-8")
        for how, disguise in calibration.DISGUISES.items():
            text = disguise(original, aid)
            tree = ast.parse(text)
            assert (text != original) == (how != "verbatim"), how
            defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
            assert set(TASKS[aid].names) <= defined, (aid, how)
        assert calibration.renamed(original, aid).count("my_") > 5, aid


@pytest.mark.slow
@pytest.mark.parametrize("aid", sorted(TASKS))
def test_honest_answers_and_disguised_copies_pass_the_public_tests(aid, tmp_path,
                                                                   fashion_mnist_dir):
    """The calibration's files are working answers: each honest file of the task, and the
    model answer with every disguise at once, pass the task's public tests."""
    task = TASKS[aid]
    original = (REPO / "solutions" / task.path).read_text(encoding="utf-8")
    texts = {"all three": calibration.DISGUISES["all three"](original, aid),
             **{c.label: c.text for c in calibration.honest_cases() if c.aid == aid}}
    for label, text in texts.items():
        root = tmp_path / label.replace("/", "_").replace(" ", "_")
        (root / task.folder).mkdir(parents=True)
        (root / task.path).write_text(text, encoding="utf-8")
        for need in task.requires:
            shutil.copytree(REPO / "solutions" / TASKS[need].folder, root / TASKS[need].folder)
        proc = subprocess.run([sys.executable, "-m", "pytest", task.folder, "-q",
                               "-p", "no:cacheprovider", f"--submission={root}"],
                              cwd=REPO / "assignments", capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, (label, proc.stdout[-2000:])


@pytest.mark.slow
def test_a_copied_kernel_file_gets_its_points_and_a_flag(tmp_path):
    """dlkit's kernel file handed in unchanged as a4: graded like any other submission (every
    check but the batch of one, which dlkit's kernels leave to the layer that calls them), and
    flagged in the record; the flag changes nothing in the score."""
    root = _submission(tmp_path, "a4",
                       (REPO / "dlkit" / "kernels" / "batchnorm.py").read_text(encoding="utf-8"))
    out = tmp_path / "record.json"
    proc = subprocess.run([sys.executable, "-m", "grader", str(root), "-a", "a4", "--format",
                           "json", "--out", str(out)], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    (task,) = record["assignments"]
    lost = {c["name"] for c in task["checks"] if c["score"] < c["max_score"]}
    a4 = load_points(REPO / "grader" / "points.toml")["a4"]
    assert lost == {"test_batch_of_one_rejected"}
    assert record["score"] == sum(a4.values()) - a4["test_batch_of_one_rejected"]
    assert [(f["with"], f["similarity"]) for f in record["similarity"]
            if f["with"].startswith("dlkit/")] == [("dlkit/kernels/batchnorm.py", 1.0)]


def test_what_is_fingerprinted_is_bounded_and_what_is_skipped_is_said(tmp_path):
    """A zip of a few KB can hold 8 MiB of one repeated line: fingerprinting it took minutes
    and hundreds of MB.  Files over the size limit are skipped, each named with the reason, and
    the rest (the other students' real files) is compared as always."""
    import time
    import zipfile

    from grader.platforms import batch, records
    from grader.scoring import runner

    solution = (REPO / "solutions" / TASKS["a2"].path).read_text(encoding="utf-8")
    line = "x = x + 1  # the same line, over and over\n"
    todo = []
    for sid in ("alice", "bob"):
        todo.append((sid, _submission(tmp_path, "a2", solution, sid)))
    archive = tmp_path / "mallory.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(TASKS["a2"].path, solution)
        for k in range(8):  # members under 1 MiB: below the zip bomb check's threshold
            zf.writestr(f"{TASKS['a2'].folder}/padding{k}.py", line * (2**20 // len(line)))
    assert archive.stat().st_size < 64 * 2**10
    todo.append(("mallory", archive))
    start = time.process_time()
    kept = {}
    for sid, path in todo:  # what a batch keeps of each student for the comparison
        files, left_out = batch.task_files(path, ["a2"])
        kept[sid] = {"gradebook": {"files": files, "files_skipped": left_out}}
    pairs, skipped = records.between_students(kept, ["a2"])
    assert time.process_time() - start < 20  # unbounded: about a minute per MiB here
    assert skipped == [{"task": "a2", "student": "mallory",
                        "file": f"a2_batchnorm/padding{k}.py",
                        "reason": "not compared: larger than 64 KiB (1023 KiB)",
                        "between_students": True}
                       for k in range(8)]
    # the real files are compared all the same: three copies of the model answer
    assert {p["other"] for p in pairs if p["student"] == "mallory"} | {
        p["student"] for p in pairs if p["other"] == "mallory"} == {"alice", "bob"}
    # one submission graded alone: the same limit, said in its record
    root = _submission(tmp_path, "a2", solution, "carol")
    (root / TASKS["a2"].folder / "padding.py").write_text(line * 40_000, encoding="utf-8")
    found = runner._similarity_flags(root, ["a2"])
    assert [s["file"] for s in found["similarity_skipped"]] == ["a2_batchnorm/padding.py"]
    assert any(f["file"] == TASKS["a2"].path for f in found["similarity"])


def test_the_comparison_stops_at_its_deadline_and_says_what_it_left(tmp_path):
    solution = (REPO / "solutions" / TASKS["a2"].path).read_text(encoding="utf-8")
    roots = {sid: _submission(tmp_path, "a2", solution, sid) for sid in ("a", "b", "c")}
    skipped: list[dict] = []
    assert similarity.pairs(roots, "a2", skipped=skipped, deadline=0.0) == []
    assert {(s["student"], s["file"]) for s in skipped} >= {
        ("a", TASKS["a2"].path), ("b", TASKS["a2"].path), ("c", TASKS["a2"].path)}
    assert all("time was up" in s["reason"] for s in skipped)


def test_on_gradescope_the_flag_is_the_instructors_and_not_the_students(tmp_path):
    """``--format gradescope``: the flag goes to extra_data and to the run's log (both the
    instructor's: Gradescope hides stdout from students), never to what a student sees."""
    from autograder import student_visible

    root = tmp_path / "sub"
    shutil.copytree(REPO / "solutions" / "a1_initialization", root / "a1_initialization")
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "grader", str(root), "-a", "a1", "--format",
                           "gradescope", "--out", str(out), "--checks-dir",
                           str(REPO / "tests" / "grader_cases" / "fake_checks")],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    (flag,) = data["extra_data"]["similarity"]
    assert flag["with"] == "solutions/a1_initialization/initializers.py"
    assert flag["similarity"] == 1.0 and flag["file"] == "a1_initialization/initializers.py"
    assert ("dlkit-grade: similarity a1 a1_initialization/initializers.py ~ "
            "solutions/a1_initialization/initializers.py: 1.00") in proc.stderr
    shown = student_visible(data)
    assert "solutions/" not in shown and "similarity" not in shown.lower()
    # --format json is what Classroom 50's autograder reads, in a job log the student reads
    proc = subprocess.run([sys.executable, "-m", "grader", str(root), "-a", "a1", "--format",
                           "json", "--out", str(tmp_path / "record.json"), "--checks-dir",
                           str(REPO / "tests" / "grader_cases" / "fake_checks")],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "record.json").read_text(encoding="utf-8"))
    assert record["similarity"] and "similarity" not in proc.stderr
