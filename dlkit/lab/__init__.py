"""Helpers for the lab notebooks of the handout (``assignments/aN_*/lab.ipynb``).

- :func:`setup` (:mod:`dlkit.lab.locate`): find the student's task folder, locally or in Colab,
  and choose the language of what the helpers print (:func:`say`: English or Japanese);
- :func:`task` (:mod:`dlkit.lab.student`): ``with lab.task("a2") as a2: ...`` imports the
  student's module afresh and, when their code raises (a stub's TODO, a bug), prints the
  error instead of stopping the notebook;
- :mod:`dlkit.lab.figures`: the student's numbers drawn beside dlkit's;
- :mod:`dlkit.lab.compare`: the student's numbers against the expected ranges.
"""

from dlkit.lab.compare import spread_table
from dlkit.lab.figures import before_after, histograms_beside, training_curves
from dlkit.lab.locate import say, setup
from dlkit.lab.student import task

__all__ = ["setup", "say", "task", "histograms_beside", "before_after", "training_curves",
           "spread_table"]
