"""The real fixtures (grader.plugin), as in grader/checks/conftest.py."""

from grader.plugin import (  # noqa: F401
    feedback,
    hidden_data,
    reference_timer,
    submission_files,
    worker,
)
