"""Where grading happens and where grades go: ``batch`` (a class on one machine, or a shard
of it), ``records`` (a class's records folder, the merge of shards), ``gradebook`` (the
gradebook, the roster, the Canvas and Moodle files, feedback files), ``release`` (the
student handout), ``gradescope`` (the autograder bundle), ``classroom50`` (Classroom 50's
autograder folder); and what the autograders share: ``lock`` (the pinned packages) and
``wheel`` (dlkit's own wheel)."""
