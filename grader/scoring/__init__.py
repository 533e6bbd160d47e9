"""From a submission to points: ``submission`` (folders and zips, safely), ``locate`` (each
task's file by its name, wherever it is), ``preflight``
(can each task load), ``runner`` (one trusted pytest process per assignment, with budgets),
``plugin`` (the checks' fixtures, partial points, the results file) and ``messages``
(feedback in English and Japanese)."""
