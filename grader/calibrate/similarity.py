"""Calibrate the similarity flag (grader.similarity): false alarms and copies caught.

    python -m grader.calibrate.similarity [--cases tests/grader_cases/similarity]
                                          [--noise 25 40] [--thresholds 0.5 0.6 0.7 0.8]

Two sets of files per task, compared the way the grader compares them (each against dlkit's
own implementations and the model answers; the honest ones also against each other, as
``dlkit-grade batch`` compares classmates):

- **honest**: correct answers written independently of the model answers and of dlkit, in
  different styles (``<cases>/honest/<task>_<style>.py``).  Every flag on one of them is a
  false alarm.
- **copies**: the model answers and dlkit's own code for the task, disguised the ways a
  student disguises a copy (:data:`DISGUISES`: names changed, functions and methods in
  another order, comments and docstrings dropped and the layout redone, all three), plus
  hand-adapted copies stored in ``<cases>/copies/``.  A copy not flagged is a miss.

Prints, for each setting, the false-alarm rate (honest files with a flag / honest files),
the pair false-alarm rate (honest pairs flagged / pairs) and the detection rate (copies
flagged / copies), with the highest honest and the lowest copy similarity.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import functools
import io
import itertools
import keyword
import re
import sys
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dlkit.tasks import TASKS
from grader import similarity

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "tests" / "grader_cases" / "similarity"


# ------------------------------------------------------------------ disguises


def _stub_names(aid: str) -> set[str]:
    """The API a copy must keep to be graded: every name of the handout's stub, and every
    attribute its docstrings mention (``self.dgamma``, ``model.loss_history``)."""
    text = (REPO / "assignments" / TASKS[aid].path).read_text(encoding="utf-8")
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return ({tok.string for tok in tokens if tok.type == tokenize.NAME}
            | set(re.findall(r"\.([A-Za-z_]\w*)", text)))


def renamed(text: str, aid: str) -> str:
    """Every name the file itself introduces (locals, helpers, attributes of its own) changed
    consistently; the stub's API, imported modules, builtins and keywords kept, and so are
    keyword arguments (``axis=0``) and names used inside f-strings (one token each)."""
    keep = _stub_names(aid) | set(dir(builtins)) | set(keyword.kwlist) | {"self"}
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg:  # np.sum(x, axis=0): NumPy's name
            keep.add(node.arg)
        if isinstance(node, ast.JoinedStr):
            keep.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
            keep.update(n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute))
        if isinstance(node, ast.Import | ast.ImportFrom):
            keep.update((a.asname or a.name).split(".")[0] for a in node.names)
            keep.update(a.name.split(".")[0] for a in node.names)
            if isinstance(node, ast.ImportFrom) and node.module:
                keep.update(node.module.split("."))
    new: dict[str, str] = {}
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    out = []
    for i, tok in enumerate(tokens):
        attribute_of_other = (i > 0 and tokens[i - 1].string == "." and i > 1
                              and tokens[i - 2].string not in ("self",))
        if tok.type == tokenize.NAME and tok.string not in keep and not attribute_of_other:
            tok = tok._replace(string=new.setdefault(tok.string, f"my_{len(new)}_{tok.string[:1]}"))
        out.append(tok)
    return tokenize.untokenize(out)


def _segments(body: list[ast.stmt], lines: list[str]) -> list[tuple[int, int]]:
    """(first, last) line numbers of each statement, decorators and comments above it
    included (1-based, inclusive)."""
    spans = []
    for node in body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        spans.append((first, node.end_lineno or node.lineno))
    return spans


def reordered(text: str) -> str:
    """The module's functions in reverse order, and each class's methods in reverse order
    (``__init__`` staying first): the same code, laid out in another order."""
    lines = text.splitlines()
    tree = ast.parse(text)

    def shuffle(body: list[ast.stmt], keep_first: Callable[[ast.stmt], bool]) -> list[str]:
        defs = [n for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef)
                and not keep_first(n)]
        spans = dict(zip(map(id, body), _segments(body, lines), strict=True))
        order = iter(reversed(defs))
        out: list[str] = []
        for node in body:
            chosen = next(order) if node in defs else node
            first, last = spans[id(chosen)]
            if isinstance(chosen, ast.ClassDef):
                head = chosen.body[0].lineno - 1 if chosen.body else last
                out += lines[first - 1:head]
                out += shuffle(chosen.body, lambda n: not isinstance(n, ast.FunctionDef)
                               or n.name == "__init__")
            else:
                out += lines[first - 1:last]
            out.append("")
        return out

    return "\n".join(shuffle(tree.body, lambda n: False)) + "\n"


def reformatted(text: str) -> str:
    """Comments and docstrings dropped, the layout redone (``ast.unparse``)."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree) + "\n"


DISGUISES: dict[str, Callable[[str, str], str]] = {
    "verbatim": lambda text, aid: text,
    "renamed": renamed,
    "reordered": lambda text, aid: reordered(text),
    "reformatted": lambda text, aid: reformatted(text),
    "all three": lambda text, aid: reformatted(reordered(renamed(text, aid))),
}


def _functions(path: Path, names: list[str], imports: str) -> str:
    """The named top-level functions and classes of ``path``, as a student would paste them
    into the task's file."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    parts = [imports]
    for node in tree.body:
        if getattr(node, "name", None) in names:
            first, last = _segments([node], lines)[0]
            parts.append("\n".join(lines[first - 1:last]))
    return "\n\n\n".join(parts) + "\n"


def originals(aid: str) -> dict[str, str]:
    """What a student could copy for task ``aid``: the model answer, and dlkit's code for the
    same task where it can be pasted into the task's file as it is."""
    found = {f"solutions/{TASKS[aid].path}":
             (REPO / "solutions" / TASKS[aid].path).read_text(encoding="utf-8")}
    if aid == "a2":
        found["dlkit/reference/layers.py: BatchNormalization"] = _functions(
            REPO / "dlkit" / "reference" / "layers.py", ["BatchNormalization"],
            "import numpy as np")
    if aid == "a4":
        found["dlkit/kernels/batchnorm.py"] = (
            REPO / "dlkit" / "kernels" / "batchnorm.py").read_text(encoding="utf-8")
        found["dlkit/kernels/batchnorm.py: the two kernels and their helpers"] = _functions(
            REPO / "dlkit" / "kernels" / "batchnorm.py",
            ["add_moments", "normalize", "scale_shift", "add_grad_sums", "input_grad",
             "statistics", "backward_constants", "batchnorm_forward_train",
             "batchnorm_backward"], "import numpy as np\nfrom numba import njit")
    return found


# ------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Case:
    """One file of the calibration: its task, a label, its text."""

    aid: str
    label: str
    text: str


def honest_cases(cases: Path = CASES) -> list[Case]:
    return [Case(p.stem.split("_", 1)[0], f"honest/{p.name}", p.read_text(encoding="utf-8"))
            for p in sorted((cases / "honest").glob("a*_*.py"))]


def copy_cases(cases: Path = CASES) -> list[Case]:
    made = [Case(aid, f"{origin} ({how})", disguise(text, aid))
            for aid in TASKS for origin, text in originals(aid).items()
            for how, disguise in DISGUISES.items()]
    stored = [Case(p.stem.split("_", 1)[0], f"copies/{p.name}", p.read_text(encoding="utf-8"))
              for p in sorted((cases / "copies").glob("a*_*.py"))]
    return made + stored


@functools.lru_cache
def _prepared(aid: str, noise: int) -> tuple[similarity.Code | tuple, list[similarity.Code]]:
    """The stub (boilerplate) and the fingerprinted references of task ``aid``, once per
    k-gram length."""
    boiler = similarity.stub(aid) or ()
    return boiler, similarity.references(aid, boiler)


def best_match(case: Case) -> tuple[float, str]:
    """The highest similarity of ``case`` against the grader's references for its task (the
    side that is flagged: the share of the case's own code), and which reference."""
    boiler, refs = _prepared(case.aid, similarity.NOISE)
    mine = similarity.fingerprint(case.label, case.text, boiler)
    found = [(similarity.compare(mine, ref)["similarity"], ref.label) for ref in refs]
    return max(found, default=(0.0, ""))


def pair_scores(cases: list[Case]) -> list[tuple[float, Case, Case]]:
    """(similarity, a, b) for every pair of cases of the same task, the larger side, as
    ``similarity.pairs`` flags them."""
    out = []
    for a, b in itertools.combinations(cases, 2):
        if a.aid != b.aid:
            continue
        boiler, _ = _prepared(a.aid, similarity.NOISE)
        c = similarity.compare(similarity.fingerprint(a.label, a.text, boiler),
                               similarity.fingerprint(b.label, b.text, boiler))
        out.append((max(c["similarity"], c["similarity_other"]), a, b))
    return out


@dataclass(frozen=True)
class Score:
    """One similarity of the calibration: ``label`` (a case, or a pair) against ``other``."""

    value: float
    aid: str
    label: str
    other: str


@dataclass(frozen=True)
class Measured:
    """Every similarity of the calibration, with the grader's settings at the time."""

    honest: list[Score]  # each honest file against its closest reference
    pairs: list[Score]  # each pair of honest files of one task
    copies: list[Score]  # each copy against its closest reference

    def rates(self, threshold: float) -> tuple[int, int, int]:
        """(honest files flagged, honest pairs flagged, copies flagged) at ``threshold``."""
        def flagged(scores: list[Score]) -> int:
            return sum(s.value >= threshold for s in scores)

        return flagged(self.honest), flagged(self.pairs), flagged(self.copies)


def _scored(cases: list[Case]) -> list[Score]:
    return [Score(value, c.aid, c.label, ref) for c in cases for value, ref in [best_match(c)]]


def measure(cases: Path = CASES) -> Measured:
    """Every similarity, with the grader's current settings (NOISE, boilerplate)."""
    honest = honest_cases(cases)
    pairs = [Score(value, a.aid, a.label, b.label) for value, a, b in pair_scores(honest)]
    return Measured(_scored(honest), pairs, _scored(copy_cases(cases)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--noise", type=int, nargs="+", default=[similarity.NOISE],
                        help="k-gram lengths to try (characters of filtered code)")
    parser.add_argument("--thresholds", type=float, nargs="+",
                        default=[0.5, 0.55, similarity.THRESHOLD, 0.7, 0.8])
    args = parser.parse_args(argv)
    for noise in args.noise:
        similarity.NOISE = noise
        m = measure(args.cases)
        print(f"k = {noise} characters of filtered code")
        print("  threshold   honest files flagged   honest pairs flagged   copies flagged")
        for t in sorted(set(args.thresholds)):
            h, p, c = m.rates(t)
            print(f"  {t:9.2f}   {h:>6}/{len(m.honest):<15} {p:>6}/{len(m.pairs):<15} "
                  f"{c:>4}/{len(m.copies)}")
        for aid in TASKS:
            top = max((s for s in m.honest + m.pairs if s.aid == aid),
                      key=lambda s: s.value, default=None)
            low = min((s for s in m.copies if s.aid == aid), key=lambda s: s.value,
                      default=None)
            print(f"  {aid}: highest honest "
                  + (f"{top.value:.3f} ({top.label} ~ {top.other})" if top else "-")
                  + "; lowest copy "
                  + (f"{low.value:.3f} ({low.label} ~ {low.other})" if low else "-"))
        for s in m.copies:
            if s.value < similarity.THRESHOLD:
                print(f"  not flagged at {similarity.THRESHOLD}: {s.label} ~ {s.other} "
                      f"{s.value:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
