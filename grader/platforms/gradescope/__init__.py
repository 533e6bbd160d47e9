"""Gradescope: ``bundle`` builds the autograder zip from ``setup.sh`` and ``run_autograder``
(shipped beside it)."""
