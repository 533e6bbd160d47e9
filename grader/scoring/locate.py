"""Where each task's file is in a submission, wherever the student put it.

Students hand in what they have: the handout's layout (``a2_batchnorm/batchnorm.py``, as
``dlkit submit`` packs it), the four files at the top of a zip (Gradescope's drag-and-drop
upload), one task's file alone, a task folder renamed (``a2/``, ``task2 (1)/``) or one level
too deep.  Each task's file is recognised by its name (``TASKS[id].module``; in any case, and
as a browser's copy ``batchnorm (1).py``), graded from wherever it is, and the student is told
where it was found.

When more than one file could be a task's, the grader takes one, by this rule (stated in the
feedback, with the files it did not grade):

0. the file in the task's folder of the submission's root (the folder that holds the task
   folders: the handout's layout);
1. a file in a folder named like the task's folder, elsewhere;
2. a file with the module's exact name;
3. a file whose name differs from it only in case or by a copy number;

and within a rank the one nearest the top of the submission, then the first in alphabetical
order.  Copies with the same content as the one graded are not a choice and are not mentioned.

Everything else is *stray*: not graded and reported to the student (a file named like a
missing task's, e.g. ``batchnorm_v2.py`` or ``batchnorm.ipynb``, with a hint), except the
handout's own files (READMEs, public tests, lab notebooks: what ``dlkit submit`` packs).
What the student is told is in the message catalog ([locate], grader/messages/<lang>.toml).

    layout = locate(staging)      # staging: the unpacked submission
    root = assemble(staging, layout, dest / "submission")
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dlkit.tasks import TASKS
from grader.scoring.catalog import Text, join, plain, say

# Files of the handout that may come along with the task files: not the student's code, not
# stray either (dlkit submit packs the whole task folder, lab notebooks included).
HANDOUT_FILES = frozenset({"README.md", "README.ja.md", "conftest.py", "pytest.ini",
                           "test_public.py", "lab.ipynb", "lab.ja.ipynb"})
# The ranks of the rule in the module docstring.
AT_ROOT, IN_TASK_FOLDER, EXACT_NAME, NAME_VARIANT = range(4)
# A browser's or a file manager's copy of a file: "batchnorm (1).py", "batchnorm(2).py"
_COPY_SUFFIX = re.compile(r"\s?\(\d+\)$")
SHOWN_STRAY = 20  # stray files named in the feedback (all of them go into the record)


@dataclass(frozen=True)
class Found:
    """Task ``task``'s file as found: ``path`` (inside the submission), its ``rank`` in the
    rule, the ``folder`` taken as the task's folder (None: the file alone), and the other
    files that could have been the task's (``others``: not graded)."""

    task: str
    path: PurePosixPath
    rank: int
    folder: PurePosixPath | None
    others: tuple[PurePosixPath, ...] = ()

    @property
    def standard(self) -> bool:
        """Where the handout puts it, and the only candidate."""
        return self.rank == AT_ROOT and not self.others

    def message(self) -> Text | None:
        """What the student is told (None when there is nothing to say)."""
        if self.standard:
            return None
        task = TASKS[self.task]
        said = []
        path = shown(self.path)
        if self.rank == NAME_VARIANT:
            said.append(say("locate.name_variant", path=path, module=task.module))
        elif self.rank != AT_ROOT:
            where = (say("locate.at_top", path=path) if len(self.path.parts) == 1
                     else say("locate.at_path", path=path))
            said.append(say("locate.elsewhere", module=task.module, where=where,
                            handout_path=task.path))
        if self.others:
            said.append(say("locate.also_found", files=", ".join(shown(p) for p in self.others),
                            folder=task.folder))
        return join(said, "locate.sentence_separator")


@dataclass
class Layout:
    """What :func:`locate` found: ``root`` (the folder holding the task folders, if any), the
    task files ``found``, the tasks whose folder is at the root without their file
    (``folders_only``: present, so that the grader says which file is missing), and the
    ``stray`` files (paths inside the submission)."""

    root: PurePosixPath | None
    found: dict[str, Found] = field(default_factory=dict)
    folders_only: set[str] = field(default_factory=set)
    stray: list[str] = field(default_factory=list)

    @property
    def present(self) -> set[str]:
        return set(self.found) | self.folders_only

    def stray_note(self) -> Text | None:
        """The files that were not graded, with a hint where one looks like a missing task's
        file; None when there are none."""
        if not self.stray:
            return None
        lines = []
        for name in self.stray[:SHOWN_STRAY]:
            hint = _hint(PurePosixPath(name), self.present)
            lines.append(plain(f"  {shown(name)}")
                         + (say("locate.stray_hint", hint=hint) if hint else plain("")))
        if len(self.stray) > SHOWN_STRAY:
            lines.append(say("locate.stray_more", more=len(self.stray) - SHOWN_STRAY))
        modules = join([plain(t.module) for t in TASKS.values()], "locate.module_separator")
        return say("locate.stray", modules=modules, files=join(lines, separator="\n"))


def shown(path: PurePosixPath | str) -> str:
    """A path as the report shows it: characters that are not printable (a line break in a
    zip member's name could forge a line of the report) as escapes, e.g. ``\\n``."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))


def _hint(path: PurePosixPath, present: set[str]) -> Text | None:
    """A hint for a stray file named like the file of a task that was not found."""
    stem = path.stem.lower()
    for task in TASKS.values():
        wanted = task.module.removesuffix(".py")
        if task.id in present or wanted not in stem:
            continue
        if path.suffix.lower() == ".ipynb":
            return say("locate.hint_notebook", module=task.module)
        if path.suffix.lower() == ".py":
            return say("locate.hint_name", task=task.id, module=task.module)
    return None


def _rank_of_name(name: str, module: str) -> int | None:
    """EXACT_NAME, NAME_VARIANT or None: is a file called ``name`` the module ``module``?"""
    if name == module:
        return EXACT_NAME
    stem, dot, suffix = name.rpartition(".")
    if dot and suffix.lower() == "py" and (
            _COPY_SUFFIX.sub("", stem).lower() == module.removesuffix(".py").lower()):
        return NAME_VARIANT
    return None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _find_root(dirs: list[PurePosixPath]) -> PurePosixPath | None:
    """The folder holding task folders: the one nearest the top, then the one holding the
    most of them, then the first in alphabetical order (e.g. ``assignments/`` before
    ``solutions/`` in a whole course checkout)."""
    folders = {task.folder for task in TASKS.values()}
    holders: dict[PurePosixPath, int] = {}
    for d in dirs:
        if d.name in folders:
            holders[d.parent] = holders.get(d.parent, 0) + 1
    if not holders:
        return None
    return min(holders, key=lambda p: (len(p.parts), -holders[p], str(p)))


def locate(staging: Path) -> Layout:
    """Recognise each task's file in the unpacked submission ``staging`` (see the module
    docstring)."""
    files, dirs = [], []
    for path in sorted(staging.rglob("*")):
        rel = PurePosixPath(path.relative_to(staging).as_posix())
        if path.is_symlink():
            continue
        if path.is_dir():
            dirs.append(rel)
        elif path.is_file():
            files.append(rel)
    root = _find_root(dirs)
    layout = Layout(root)
    taken: set[PurePosixPath] = set()  # files graded, or copies of them
    for task in TASKS.values():
        standard = (root / task.folder / task.module) if root is not None else None
        candidates = []
        for rel in files:
            rank = _rank_of_name(rel.name, task.module)
            if rank is None:
                continue
            if rel == standard:
                rank = AT_ROOT
            elif rank == EXACT_NAME and rel.parent.name.lower() == task.folder.lower():
                rank = IN_TASK_FOLDER
            candidates.append((rank, len(rel.parts), str(rel), rel))
        if not candidates:
            if root is not None and (root / task.folder) in dirs:
                layout.folders_only.add(task.id)
            continue
        candidates.sort()
        rank, _, _, best = candidates[0]
        digest = _digest(staging / best)
        copies = {rel for *_, rel in candidates if _digest(staging / rel) == digest}
        others = tuple(rel for *_, rel in candidates[1:] if rel not in copies)
        layout.found[task.id] = Found(task.id, best, rank, None, others)
        taken |= copies
    # The folder taken along with each file: the handout's task folder, a folder named like
    # it, or a folder that holds this task's file and nothing of another task.
    chosen = {tid: found.path for tid, found in layout.found.items()}
    for tid, found in layout.found.items():
        parent = found.path.parent
        mine = [p for p in chosen.values() if parent in p.parents]
        outside_root = root is None or (parent != root and parent not in root.parents)
        if found.rank in (AT_ROOT, IN_TASK_FOLDER) or (
                parent != PurePosixPath(".") and outside_root and mine == [found.path]):
            layout.found[tid] = Found(tid, found.path, found.rank, parent, found.others)
    layout.stray = [str(rel) for rel in files
                    if rel not in taken and rel.name not in HANDOUT_FILES
                    and not _in_task_folder(rel, layout)]
    return layout


def _in_task_folder(rel: PurePosixPath, layout: Layout) -> bool:
    """A Python file inside a folder taken as a task's folder (it comes along: the task's
    module may import it)."""
    if rel.suffix != ".py":
        return False
    folders = [f.folder for f in layout.found.values() if f.folder is not None]
    if layout.root is not None:
        folders += [layout.root / TASKS[tid].folder for tid in layout.folders_only]
    return any(folder in rel.parents for folder in folders)


def assemble(staging: Path, layout: Layout, dest: Path) -> Path:
    """Lay the submission out as the handout does in ``dest`` (created): ``dest/<task
    folder>/`` for every task present, its file under the module's name.  Returns ``dest``."""
    dest.mkdir()
    for tid in sorted(layout.folders_only):  # only where there is a root (see locate)
        root = staging / (layout.root or PurePosixPath("."))
        shutil.copytree(root / TASKS[tid].folder, dest / TASKS[tid].folder)
    for tid, found in sorted(layout.found.items()):
        task = TASKS[tid]
        target = dest / task.folder
        if found.folder is not None:
            shutil.copytree(staging / found.folder, target, dirs_exist_ok=True)
        target.mkdir(exist_ok=True)
        shutil.copyfile(staging / found.path, target / task.module)
    return dest
