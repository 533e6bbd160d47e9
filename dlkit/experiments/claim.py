"""One claim of the lesson and its verdict, and the measures several claims share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Claim", "fmt", "final_loss", "FINAL_FRACTION", "LESSON", "OBSERVATION"]

#: a statement the slides (or the book's chapter) make
LESSON = "lesson"
#: a statement the slides do not make: the report's own observation, measured beside them
OBSERVATION = "observation"

#: the final loss is the mean mini-batch loss over the last 10% of the iterations.
FINAL_FRACTION = 0.1


@dataclass
class Claim:
    """One statement of the lesson and what the measurements say about it.

    ``held`` has one entry per seed; ``passed`` is True when the claim held on every seed.
    ``evidence`` is a short text with the numbers; ``numbers`` the same as plain data.
    ``source``: :data:`LESSON` (the slides or the chapter say it) or :data:`OBSERVATION`
    (the report's own, measured beside the lesson's claims). ``note``: an explanation the
    report prints under the claim (empty if none).
    """

    experiment: str
    statement: str
    held: list[bool]
    evidence: str
    numbers: dict = field(default_factory=dict)
    source: str = LESSON
    note: str = ""

    def __post_init__(self):
        if self.source not in (LESSON, OBSERVATION):
            raise ValueError(f"source must be {LESSON!r} or {OBSERVATION!r}, "
                             f"got {self.source!r}")

    @property
    def passed(self) -> bool:
        return bool(self.held) and all(self.held)

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def to_dict(self) -> dict:
        return {
            "experiment": self.experiment,
            "statement": self.statement,
            "held": [bool(h) for h in self.held],
            "passed": self.passed,
            "evidence": self.evidence,
            "numbers": self.numbers,
            "source": self.source,
            "note": self.note,
        }


def fmt(values, spec=".3g") -> str:
    return "[" + ", ".join(format(float(v), spec) for v in np.ravel(values)) + "]"


def final_loss(loss: np.ndarray) -> np.ndarray:
    """Mean mini-batch loss over the last ``FINAL_FRACTION`` of the iterations, per seed."""
    loss = np.asarray(loss)
    n = max(1, int(round(FINAL_FRACTION * loss.shape[-1])))
    return loss[..., -n:].mean(axis=-1)
