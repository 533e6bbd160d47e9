"""Fixtures of the hidden checks (implemented in grader/scoring/plugin.py, loaded by the runner).

Run the checks through the runner, which sets up the submission and the results file::

    dlkit-grade SUBMISSION --assignment a2          # or: python -m grader ...

- ``worker``: a sandboxed worker for the submission (module scope; restarted after a
  death or timeout). ``worker.call("pkg.module:function", *args, timeout=10)`` -> plain
  value; ``worker.create("pkg.module:Class", *args)`` -> Remote with ``.call(name, ...)``,
  ``.get(name)``, ``.set(name, value)``, ``.method(name)``; ``return_args=True`` returns
  ``(result, args_after_the_call)``; ``worker.time(target, args, number=N, repeat=3,
  warmup=1, timeout=60)`` -> seconds per call on the trusted clock (``target`` may be a
  list of ``(target, args, kwargs)`` steps; ``return_result=True`` also returns the last
  results). ``grader.ipc.protocol.Rng(seed)`` becomes ``np.random.default_rng(seed)`` in the
  worker. Errors: ``grader.sandbox.handle.StudentError`` (``.blocked`` for forbidden imports),
  ``StudentTimeout``, ``WorkerDied``; uncaught, they score the check 0 with a clear reason.
- ``feedback``: ``feedback.fail(say("a1.test_init_zeros.not_zero", n_in=...))`` fails the
  check with a message of the catalog (grader/messages/<lang>.toml); ``feedback.partial(fraction,
  say(...))`` awards that fraction of its points when the check passes; ``feedback.note(
  say(...))`` adds a remark.  Helpers for writing checks (comparing values, "one mistake,
  one cost", thresholds): grader/checks/helpers.py; the guide:
  docs/authors/writing-checks.md.
- ``reference_timer``: a clean worker (no student code) for trusted reference timings,
  same API as ``worker`` (session scope).
- speed: ``grader.timing.paired.paired_speedup(Timed(worker, steps, vary, replay), Timed(
  reference_timer, ...))`` -> (Speedup: median and quartiles of t_reference / t_student
  over paired interleaved rounds, timed on the trusted side; the student's results).
- ``submission_files``: the student's files, read-only (``.files``, ``.path(rel)``,
  ``.read_text(rel)``, ``.imports(rel)``) for advisory static checks.
- ``hidden_data``: ``.fashion_mnist(**load_mnist_kwargs)``, ``.mnist_test()`` (from the folder
  $DLKIT_GRADE_MNIST_DIR; None when it is unset or the files are absent); loaded here, on the
  trusted side.
"""

from grader.scoring.plugin import (  # noqa: F401 - fixtures made visible to the checks
    feedback,
    hidden_data,
    reference_timer,
    submission_files,
    worker,
)
