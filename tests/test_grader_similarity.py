"""Copying is flagged for the TA and never penalized (grader.similarity).

Real files throughout: dlkit's own kernels copied into a4, the model answers (also with the
slips of tests/slip_cases.py), the handout's stubs, a layer in the book's style
(tests/grader_cases/similarity/book_style).  The last test
grades a copy of dlkit's kernel file with the real grader (a subprocess): full points, flagged.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import slip_cases

from dlkit.tasks import TASKS
from grader import similarity

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
    # written independently of the model answer: dlkit's own kernels (0.39 – 0.51 overlap)
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
    assert lost == {"test_batch_of_one_rejected"} and record["score"] == 24
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
