"""The documentation: the README's promises, the commands the docs mark runnable, the
figures of the gallery, and the MkDocs site built strictly."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]

SETUP = ('python -m pip install -e ".[dev]" && '
         "dlkit reproduce --dataset fashion-mnist --out results")
TEST_COMMAND = "python -m pytest"

# <!-- runnable -->, <!-- runnable slow data -->, ...: the fenced block below runs (OPTIONS:
# only with -m slow; from the checkout's top folder; only where Fashion-MNIST is installed)
MARKER = re.compile(r"^<!--\s*runnable(?P<options>[^>]*?)\s*-->\s*$")
OPTIONS = {"slow", "root", "data"}
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
LANGUAGES = {"bash", "python"}


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    options: frozenset[str]

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def collect() -> tuple[list[Block], list[str]]:
    """Every block marked runnable in the README and docs/, and the markers that mark none."""
    blocks, problems = [], []
    for path in PAGES:
        page = path.relative_to(ROOT).as_posix()
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            marker = MARKER.match(line)
            if marker is None:
                if line.lstrip().startswith("<!--") and "runnable" in line:
                    problems.append(f"{page}:{i + 1}: not a runnable marker: {line!r}")
                continue
            options = frozenset(marker["options"].split())
            if options - OPTIONS:
                problems.append(f"{page}:{i + 1}: unknown option(s) {sorted(options - OPTIONS)}"
                                f" (known: {sorted(OPTIONS)})")
            fence = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
            if fence is None or fence["lang"] not in LANGUAGES:
                problems.append(f"{page}:{i + 1}: the marker must be followed by a fenced "
                                f"block in one of {sorted(LANGUAGES)}")
                continue
            end = next((j for j in range(i + 2, len(lines)) if lines[j].strip() == "```"), None)
            if end is None:
                problems.append(f"{page}:{i + 2}: the fenced block is never closed")
                continue
            blocks.append(Block(page, i + 2, fence["lang"], "\n".join(lines[i + 2:end]),
                                options))
    return blocks, problems


BLOCKS, PROBLEMS = collect()


def test_every_runnable_marker_marks_a_block():
    assert PROBLEMS == []


def test_the_readme_and_each_section_have_runnable_commands():
    """A marker that stopped matching would silently run nothing: count what is found."""
    pages = {block.page for block in BLOCKS}
    assert "README.md" in pages
    for section in ("students", "instructors", "lesson"):
        assert any(p.startswith(f"docs/{section}/") for p in pages), section
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize("block", [
    pytest.param(b, id=b.id, marks=[pytest.mark.slow] if "slow" in b.options else [])
    for b in BLOCKS
])
def test_runnable_block(block, tmp_path, request):
    """The block runs as shown, in an empty folder (or the checkout, read only), and exits 0."""
    if "data" in block.options:
        request.getfixturevalue("fashion_mnist_dir")  # skips (or fails in CI) without it
    bin_dir = str(Path(sys.executable).parent)
    # One BLAS thread: the numbers are the same, and on a shared machine a multi-threaded
    # BLAS spins on the cores it waits for, multiplying the CPU time of a short example.
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),
               MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    if block.lang == "bash":
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    else:
        command = [sys.executable, "-c", block.code]
    proc = subprocess.run(command, cwd=ROOT if "root" in block.options else tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (f"{block.id} exited {proc.returncode}:\n{block.code}\n"
                                  f"--- stdout\n{proc.stdout[-3000:]}\n"
                                  f"--- stderr\n{proc.stderr[-3000:]}")


# ---------------------------------------------------------------- the README


def test_readme_is_short_and_starts_with_the_two_setup_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150
    head = lines[:40]
    assert SETUP in head and TEST_COMMAND in head


def test_ci_runs_the_readme_commands_and_builds_the_site():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert 'python -m pip install -e ".[dev]"' in ci
    assert TEST_COMMAND in ci
    assert any(line.split("#")[0].strip().endswith("mkdocs build --strict") for line in ci)


def test_readme_links_lead_to_pages_that_exist():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [t for t in targets if "://" not in t]
    assert any(t.startswith("docs/") for t in local)
    assert [t for t in local if not (ROOT / t).exists()] == []


# ---------------------------------------------------------------- included files


@pytest.mark.parametrize("handout", sorted(ROOT.glob("assignments/a*/README*.md")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_each_task_page_includes_its_handout_without_the_language_line(handout):
    """docs/students/tasks/aN[.ja].md include the handout's title (line 1) and everything from
    line 4: line 3 is the link to the other language, which means nothing on the site."""
    lines = handout.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and lines[1] == "" and lines[3] == ""
    other = "README.md" if handout.name == "README.ja.md" else "README.ja.md"
    assert f"]({other})" in lines[2]
    task = handout.parent.name.split("_")[0]
    suffix = ".ja" if handout.name == "README.ja.md" else ""
    page = (DOCS / "students" / "tasks" / f"{task}{suffix}.md").read_text(encoding="utf-8")
    rel = handout.relative_to(ROOT).as_posix()
    assert f'--8<-- "{rel}:1:1"' in page and f'--8<-- "{rel}:4:"' in page


@pytest.mark.parametrize("japanese", sorted((DOCS / "students").rglob("*.ja.md")),
                         ids=lambda p: p.relative_to(DOCS).as_posix())
def test_each_japanese_student_page_and_its_english_twin_link_to_each_other(japanese):
    english = japanese.with_name(japanese.name.replace(".ja.md", ".md"))
    assert english.is_file()
    assert f"]({english.name})" in japanese.read_text(encoding="utf-8")
    assert f"]({japanese.name})" in english.read_text(encoding="utf-8")


# ---------------------------------------------------------------- the gallery


def _figures() -> list[str]:
    from dlkit import plots
    from dlkit.experiments import reproduce

    return [f"{name}.png" for experiment in reproduce.EXPERIMENTS
            for name in plots.figure_names(experiment)]


def test_the_gallery_shows_every_figure_reproduce_draws():
    gallery = (DOCS / "lesson" / "gallery.md").read_text(encoding="utf-8")
    shown = re.findall(r"!\[[^\]]*\]\(reproduce/([\w.-]+\.png)\)", gallery)
    figures = _figures()
    assert sorted(shown) == sorted(figures)
    for png in figures:
        path = DOCS / "lesson" / "reproduce" / png
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert path.stat().st_size < 250_000, f"{png}: keep the committed figures small"
    # the report of the same run, with the book's settings (not a --quick run) on 3 seeds
    report = (DOCS / "lesson" / "reproduce" / "report.md").read_text(encoding="utf-8")
    assert "- **settings**: the book's" in report and "- **seeds**: 0 1 2" in report
    assert all(f"]({png})" in report for png in figures)
    readme_figures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", README.read_text("utf-8"))
    assert len(readme_figures) == 1
    assert (ROOT / readme_figures[0]).is_file()


def _module(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_refresh_gallery_copies_a_run_as_palette_pngs_and_refuses_a_folder_without_one(tmp_path):
    from matplotlib.figure import Figure
    from PIL import Image

    refresh = _module("refresh_gallery").refresh
    results, gallery = tmp_path / "results", tmp_path / "gallery"
    results.mkdir()
    fig = Figure(figsize=(4, 3))
    fig.add_subplot().plot([0, 1, 2], [2.3, 0.9, 0.5])
    fig.savefig(results / "init_compare.png")
    (results / "report.md").write_text("# report\n![init_compare](init_compare.png)\n")
    written = refresh(results, gallery)
    assert sorted(p.name for p in written) == ["init_compare.png", "report.md"]
    with Image.open(gallery / "init_compare.png") as image:
        assert image.mode == "P" and image.size == (400, 300)
    assert (gallery / "report.md").read_text() == (results / "report.md").read_text()
    (results / "report.md").unlink()
    with pytest.raises(FileNotFoundError, match="report.md"):
        refresh(results, gallery)


# ---------------------------------------------------------------- the API reference


def test_docstring_roles_literal_blocks_and_tables_become_markdown():
    rewrite = _module("griffe_rst").rewrite
    assert rewrite("see :func:`dlkit.buffers.take` and :mod:`~dlkit.layers`") == (
        "see `dlkit.buffers.take` and `layers`")
    assert rewrite(":class:`the layer <dlkit.layers.Affine>`") == "`the layer`"
    assert rewrite("Modules::\n\n    idx  read_idx") == "Modules:\n\n    idx  read_idx"
    table = ("Schemes:\n\n=======  ===\na        b\n=======  ===\n``c``    d\n=======  ===\n\n"
             "After ``e``.")
    assert rewrite(table) == ("Schemes:\n\n```text\n=======  ===\na        b\n=======  ===\n"
                              "  c      d\n=======  ===\n```\n\nAfter ``e``.")
    headerless = "===  ===\na    b\n===  ===\n\nText."
    assert rewrite(headerless) == "```text\n===  ===\na    b\n===  ===\n```\n\nText."


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path):
    """`mkdocs build --strict` (as CI runs it): no broken link, anchor, include or reference;
    the handouts and the docstrings are in the pages built from them."""
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "WARNING" not in proc.stderr
    a2 = (site / "students" / "tasks" / "a2" / "index.html").read_text(encoding="utf-8")
    title = (ROOT / "assignments" / "a2_batchnorm" / "README.md").read_text("utf-8")
    assert title.splitlines()[0].removeprefix("# ") in a2
    kernels = (site / "reference" / "kernels" / "index.html").read_text(encoding="utf-8")
    assert "batchnorm_forward_train" in kernels and ":func:`" not in kernels
