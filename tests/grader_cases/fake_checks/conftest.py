"""The real fixtures (grader.scoring.plugin), as in grader/checks/conftest.py."""

from grader.scoring.plugin import (  # noqa: F401
    feedback,
    hidden_data,
    reference_timer,
    submission_files,
    worker,
)
