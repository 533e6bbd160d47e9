"""``python -m grader.report RECORD.json --format junit [--lang ja] [--out PATH]``: render a
saved grading record (``dlkit-grade ... --format json``) in another format, or as a
Markdown summary (``--format summary``, e.g. for $GITHUB_STEP_SUMMARY)."""

import argparse
import json
import sys
from pathlib import Path

from grader.report import FORMATS, render
from grader.scoring import catalog


def summary(record: dict) -> str:
    lines = [f"## Score: {record['score']:g} / {record['max_score']:g}", "",
             "| assignment | score | max |", "|---|---|---|"]
    lines += [f"| {a['id']} {a['title']} | {a['score']:g} | {a['max_score']:g} |"
              for a in record["assignments"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m grader.report", description=__doc__)
    p.add_argument("record", type=Path)
    p.add_argument("--format", "-f", choices=(*FORMATS, "summary"), default="text")
    p.add_argument("--lang", choices=catalog.languages(), default="en")
    p.add_argument("--out", "-o", type=Path)
    args = p.parse_args(argv)
    record = json.loads(args.record.read_text(encoding="utf-8"))
    text = summary(record) if args.format == "summary" else render(record, args.format,
                                                                     args.lang)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
