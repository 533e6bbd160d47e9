"""dlkit's autograder: hidden checks and a runner students cannot fool.

Rooms, each depending only on the ones listed after it:

- ``cli``: ``dlkit-grade`` and its subcommands.
- ``platforms``: where grades go: ``batch`` (a class, or a shard of it), ``records`` (a
  class's records folder, the merge of shards), ``gradebook`` (the gradebook, the roster,
  Canvas's and Moodle's files, feedback files), ``release`` (the student handout),
  ``gradescope`` (the autograder bundle).
- ``report``: a grading record as text, json, Gradescope's results.json or JUnit XML.
- ``scoring``: ``runner`` (one trusted pytest process per assignment, points), ``plugin``
  (the checks' fixtures and results file), ``preflight`` (can a task load at all),
  ``submission`` (folders and zips, safely), ``locate`` (each task's file by its name,
  wherever it is in a submission), ``messages`` (feedback in English and Japanese).
- ``similarity``: copying flags for the TA.
- ``sandbox``: ``handle`` (the trusted side's handle on a worker), ``policy`` (what a worker
  is told), ``isolation`` (the levels and what they hide), ``kernel_cache``, and inside the
  worker ``worker``, ``mounts``, ``confine``, ``blocking``.
- ``timing``: ``paired`` (timed runs, both ends, and the paired speed-up), ``varied``
  (inputs that make a timed run unforgeable).
- ``ipc``: ``protocol`` (the wire format: JSON + raw array bytes, never pickle) and
  ``channel`` (the pipes to a worker, with deadlines).

``checks/`` holds the hidden checks and ``points.toml`` their points.
"""

from pathlib import Path

GRADER_DIR = Path(__file__).resolve().parent
"""This package's folder: the hidden checks, the points, the grader's sources."""
REPO_DIR = GRADER_DIR.parent
"""The folder that holds ``grader/`` (and ``dlkit/`` in a source checkout)."""
