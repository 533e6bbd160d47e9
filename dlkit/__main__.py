"""``python -m dlkit`` = ``dlkit``."""

import sys

from dlkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
