"""Where grades go: a whole class graded in batch, its gradebook, and the forms a course
imports (Canvas, Moodle, feedback files)."""
