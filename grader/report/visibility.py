"""When Gradescope shows students their results: the ``[gradescope]`` table of points.toml.

    [gradescope]
    score = "visible"                    # the total score (results.json's top level)
    checks = "visible"                   # every check, unless its task or itself says otherwise
    a3 = "after_due_date"                # every check of a3
    "a2.test_speed" = "after_published"  # one check

Each value is one of Gradescope's four: ``visible`` (at once), ``after_due_date``,
``after_published`` (when the instructor publishes the grades) and ``hidden`` (never; meant
for checks worth no points: a hidden check's points still count in the total the student
sees). Without the table everything is ``visible``, as the handout promises. A check's own
entry wins over its task's, which wins over ``checks``. Gradescope also keeps the total
from students while any check of theirs is not yet visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
DEFAULT = "visible"
TABLE = "gradescope"


class VisibilityError(ValueError):
    """The [gradescope] table names an unknown check or visibility (says which)."""


@dataclass(frozen=True)
class Visibility:
    score: str = DEFAULT
    checks: str = DEFAULT
    tasks: dict[str, str] = field(default_factory=dict)
    each: dict[tuple[str, str], str] = field(default_factory=dict)

    def of(self, aid: str, check: str) -> str:
        """The visibility of check ``check`` of task ``aid`` (a parametrized check
        ``test_x[...]`` follows ``test_x``)."""
        base = check.split("[", 1)[0]
        return self.each.get((aid, check)) or self.each.get((aid, base)) or self.tasks.get(
            aid) or self.checks


def parse(data: dict, points: dict[str, dict[str, float]], where: str = "points.toml"
          ) -> Visibility:
    """The Visibility of a parsed points file (``data``: the whole TOML document;
    ``points``: its check tables, to validate the names against)."""
    table = data.get(TABLE, {})
    if not isinstance(table, dict):
        raise VisibilityError(f"{where}: [{TABLE}] must be a table, got {table!r}")
    score, checks, tasks, each = DEFAULT, DEFAULT, {}, {}
    for key, value in table.items():
        if value not in VISIBILITIES:
            raise VisibilityError(f"{where}: [{TABLE}] {key}: expected one of "
                                  f"{', '.join(VISIBILITIES)}, got {value!r}")
        aid, _, check = key.partition(".")
        if key == "score":
            score = value
        elif key == "checks":
            checks = value
        elif aid in points and not check:
            tasks[aid] = value
        elif aid in points and check in points[aid]:
            each[(aid, check)] = value
        else:
            known = ", ".join(["score", "checks", *points,
                               *(f"{a}.{c}" for a, t in points.items() for c in list(t)[:1])])
            raise VisibilityError(f"{where}: [{TABLE}] {key}: expected score, checks, a task "
                                  f"or task.check of the points file (e.g. {known}, ...), "
                                  f"got {key!r}")
    return Visibility(score, checks, tasks, each)


def load(path) -> Visibility:
    """The Visibility of the points file at ``path`` (VisibilityError if its table is wrong;
    the runner's GraderError if the points themselves are)."""
    from grader.scoring.runner import load_points, tomllib

    points = load_points(path)
    with open(path, "rb") as f:
        data = tomllib.load(f)
    return parse(data, points, str(path))
