"""Shared pytest settings for the project's own tests."""

# Submissions the grader tests feed to dlkit-grade (buggy, hostile, fake hidden checks):
# student code and check files, not tests of this project.
collect_ignore = ["grader_cases"]
