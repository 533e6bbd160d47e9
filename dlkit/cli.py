"""The ``dlkit`` command: one sub-command per job.

Each part of the package registers its own sub-commands through an ``add_parser(sub)``
function that calls ``sub.add_parser(...)`` and ``set_defaults(func=handler)``; a handler
takes the parsed ``argparse.Namespace`` and returns the exit status. Heavy imports
(numba, matplotlib) happen inside the handlers, so ``dlkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from dlkit import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlkit",
        description=(
            "dlkit: weight initialization and Batch Normalization "
            "(Deep Learning from Scratch, 6.2-6.3), reproduced with Numba kernels."
        ),
    )
    parser.add_argument("--version", action="version", version=f"dlkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from dlkit import demo
    from dlkit.data import cli as data_cli
    from dlkit.experiments import cli as experiments_cli
    from dlkit.submit import cli as submit_cli

    demo.add_parser(sub)
    data_cli.add_parser(sub)
    experiments_cli.add_parser(sub)
    submit_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
