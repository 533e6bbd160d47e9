"""Where grading happens and where grades go: ``batch`` (a class on one machine, or a shard
of it), ``records`` (a class's records folder, the merge of shards), ``gradebook`` (the
gradebook, the roster, the Canvas and Moodle files, feedback files), ``release`` (the
student handout) and ``gradescope`` (the autograder bundle)."""
