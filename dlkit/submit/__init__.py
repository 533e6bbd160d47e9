"""``dlkit submit``: check a student's handout folder and pack it the way the grader reads it.

One job per module:

- :mod:`dlkit.submit.layout`: where the handout is and where each task's file is (a folder
  nested too deep, a missing file, a notebook in place of the module);
- :mod:`dlkit.submit.source`: what can be told from a task file without running it (it
  parses, defines the names the grader calls, imports nothing the grader blocks);
- :mod:`dlkit.submit.probe`: importing each task file in a clean Python process;
- :mod:`dlkit.submit.public_tests`: the public tests, summarized per task;
- :mod:`dlkit.submit.pack`: the files of a submission, the grader's size limits, the zip;
- :mod:`dlkit.submit.cli`: the command, which runs the above in that order and prints a
  summary per task.

The task layout, what the grader blocks and its size limits come from :mod:`dlkit.tasks`.
"""
