"""Where grading happens and where grades go: ``batch`` (a class on one machine, the
gradebook), ``release`` (the student handout) and ``gradescope`` (the autograder bundle)."""
