"""Where grading runs: Gradescope's bundle, Classroom 50's autograder folder, a class in
batches; and what every platform shares (the pinned environment, :mod:`grader.platforms.lock`)."""
