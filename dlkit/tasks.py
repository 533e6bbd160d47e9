"""The four graded tasks of the handout, as plain data.

One description, read by everything that handles a student's work: ``dlkit submit`` (which
checks and packs a submission), the grader (where each task's file is, what dlkit may not
give the student's code in each task, how large a submission may be) and the reports (each
task's title in English and Japanese).

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
    title:     {"en": …, "ja": …}
    blocked_modules: dlkit modules that hold this task's answer, not importable while the
               student's code runs (whole modules)
    blocked_attrs:   "module:name" objects of otherwise allowed dlkit modules, likewise
    block_reason:    {"en": …, "ja": …}: why, as the student is told
    requires:  other tasks whose folder this task's module imports (a3 uses a2's layer)
    """

    id: str
    folder: str
    module: str
    names: tuple[str, ...]
    title: dict[str, str]
    blocked_modules: tuple[str, ...]
    blocked_attrs: tuple[str, ...]
    block_reason: dict[str, str]
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
    block_reason: dict[str, str]


# a1: init_weight, the layer activations and their spread statistics are the task; dlkit's
# initializers, its network (which builds weights with them) and its experiments (the
# activation histograms) have the answers.
_INITIALIZATION_BLOCK: _Block = {
    "blocked_modules": ("dlkit.initializers", "dlkit.network", "dlkit.experiments"),
    "blocked_attrs": (),
    "block_reason": {
        "en": ("in a1 you implement weight initialization and the activation statistics "
               "yourself, so dlkit.initializers, dlkit.network, dlkit.experiments and the "
               "solutions are not available to your code"),
        "ja": ("a1 では重みの初期化と活性化の統計を自分で実装するので、dlkit.initializers・"
               "dlkit.network・dlkit.experiments と模範解答はあなたのコードから使えません"),
    },
}


def _batchnorm_block(task_id: str) -> _Block:
    # a2, a3 (the network uses the student's a2 layer) and a4 (Numba kernels): BatchNorm is
    # the task; dlkit's layer, its reference and its kernels have the answer.
    return {
        "blocked_modules": ("dlkit.kernels.batchnorm", "dlkit.reference"),
        "blocked_attrs": ("dlkit.layers:BatchNormalization",),
        "block_reason": {
            "en": (f"in {task_id} you implement BatchNorm yourself, so dlkit's own BatchNorm "
                   "(dlkit.layers.BatchNormalization, dlkit.reference, the batchnorm kernels "
                   "of dlkit.kernels) and the solutions are not available to your code"),
            "ja": (f"{task_id} では BatchNorm を自分で実装するので、dlkit の BatchNorm "
                   "（dlkit.layers.BatchNormalization、dlkit.reference、dlkit.kernels の "
                   "batchnorm カーネル）と模範解答はあなたのコードから使えません"),
        },
    }


TASKS: dict[str, Task] = {
    task.id: task
    for task in (
        Task("a1", "a1_initialization", "initializers.py",
             ("init_weight", "layer_activations", "spread_stats"),
             {"en": "Weight initialization", "ja": "重みの初期値"},
             **_INITIALIZATION_BLOCK),
        Task("a2", "a2_batchnorm", "batchnorm.py", ("BatchNormalization",),
             {"en": "Batch Normalization (NumPy)", "ja": "Batch Normalization（NumPy）"},
             **_batchnorm_block("a2")),
        Task("a3", "a3_training", "train.py", ("train",),
             {"en": "Training with Batch Normalization",
              "ja": "Batch Normalization を使った学習"},
             requires=("a2",), **_batchnorm_block("a3")),
        Task("a4", "a4_numba", "kernels.py",
             ("batchnorm_forward_train", "batchnorm_backward"),
             {"en": "Batch Normalization in Numba", "ja": "Numba による Batch Normalization"},
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
