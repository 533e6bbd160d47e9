"""The four graded tasks of the handout, as plain data.

One description, read by everything that handles a student's work: ``dlkit submit`` (which
checks and packs a submission), the grader (where each task's file is, what dlkit may not
give the student's code in each task, how large a submission may be) and the reports (each
task's title; the grader's feedback says it in the student's language, from its message
catalog).

    from dlkit.tasks import TASKS
    TASKS["a2"].folder        # 'a2_batchnorm'
    TASKS["a2"].module        # 'batchnorm.py'
    TASKS["a3"].requires      # ('a2',): a3 imports the student's a2 layer

Nothing here is secret: the points and the hidden checks stay with the grader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


@dataclass(frozen=True)
class Task:
    """One graded task.

    id:        "a1" … "a4"
    folder:    the task's folder in the handout (``assignments/<folder>/``)
    module:    the file the student fills in, inside ``folder``
    names:     what the student writes in ``module`` (functions and classes the grader calls)
    title:     the task's name, in English
    blocked_modules: dlkit modules that hold this task's answer, not importable while the
               student's code runs (whole modules)
    blocked_attrs:   "module:name" objects of otherwise allowed dlkit modules, likewise
    block_reason:    why, as the student is told (in English)
    requires:  other tasks whose folder this task's module imports (a3 uses a2's layer)
    """

    id: str
    folder: str
    module: str
    names: tuple[str, ...]
    title: str
    blocked_modules: tuple[str, ...]
    blocked_attrs: tuple[str, ...]
    block_reason: str
    requires: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The module's path inside the handout, e.g. ``a2_batchnorm/batchnorm.py``."""
        return f"{self.folder}/{self.module}"

    @property
    def import_name(self) -> str:
        """The module's import name, e.g. ``a2_batchnorm.batchnorm``."""
        return f"{self.folder}.{self.module.removesuffix('.py')}"


class _Block(TypedDict):
    """The blocking fields of a :class:`Task`, shared by several tasks."""

    blocked_modules: tuple[str, ...]
    blocked_attrs: tuple[str, ...]
    block_reason: str


# a1: init_weight, the layer activations and their spread statistics are the task; dlkit's
# initializers, its network (which builds weights with them) and its experiments (the
# activation histograms) have the answers.
_INITIALIZATION_BLOCK: _Block = {
    "blocked_modules": ("dlkit.initializers", "dlkit.network", "dlkit.experiments"),
    "blocked_attrs": (),
    "block_reason": ("in a1 you implement weight initialization and the activation statistics "
                     "yourself, so dlkit.initializers, dlkit.network, dlkit.experiments and the "
                     "solutions are not available to your code"),
}


def _batchnorm_block(task_id: str) -> _Block:
    # a2, a3 (the network uses the student's a2 layer) and a4 (Numba kernels): BatchNorm is
    # the task; dlkit's layer, its reference and its kernels have the answer.
    return {
        "blocked_modules": ("dlkit.kernels.batchnorm", "dlkit.reference"),
        "blocked_attrs": ("dlkit.layers:BatchNormalization",),
        "block_reason": (f"in {task_id} you implement BatchNorm yourself, so dlkit's own "
                         "BatchNorm (dlkit.layers.BatchNormalization, dlkit.reference, the "
                         "batchnorm kernels of dlkit.kernels) and the solutions are not "
                         "available to your code"),
    }


TASKS: dict[str, Task] = {
    task.id: task
    for task in (
        Task("a1", "a1_initialization", "initializers.py",
             ("init_weight", "layer_activations", "spread_stats"),
             "Weight initialization",
             **_INITIALIZATION_BLOCK),
        Task("a2", "a2_batchnorm", "batchnorm.py", ("BatchNormalization",),
             "Batch Normalization (NumPy)",
             **_batchnorm_block("a2")),
        Task("a3", "a3_training", "train.py", ("train",),
             "Training with Batch Normalization",
             requires=("a2",), **_batchnorm_block("a3")),
        Task("a4", "a4_numba", "kernels.py",
             ("batchnorm_forward_train", "batchnorm_backward"),
             "Batch Normalization in Numba",
             **_batchnorm_block("a4")),
    )
}

# Never importable by the student's code, in any task.
ALWAYS_BLOCKED = ("solutions", "grader")

# Folders and files that are not part of a submission (caches, editors, version control).
SKIP_NAMES = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX", ".DS_Store",
                        ".pytest_cache", ".venv", "venv"})


@dataclass(frozen=True)
class SizeLimits:
    """How large a submission may be: the grader refuses anything larger."""

    max_bytes: int = 50 * 2**20
    max_files: int = 2000
    max_ratio: int = 200  # uncompressed/compressed, per zip member above 1 MiB


SUBMISSION_LIMITS = SizeLimits()
