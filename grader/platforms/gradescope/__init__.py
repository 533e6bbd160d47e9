"""Gradescope: ``bundle`` builds the autograder zip from ``setup.sh`` and ``run_autograder``
(shipped beside it), dlkit's wheel and the lock of its packages."""
