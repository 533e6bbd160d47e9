"""Gradescope: the autograder bundle and what its results.json shows students when."""
