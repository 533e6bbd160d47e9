"""``python -m grader`` = ``dlkit-grade``."""

import sys

from grader.cli import main

sys.exit(main())
