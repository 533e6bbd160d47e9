"""Uses dlkit's own BatchNormalization in a2, where it is the task: blocked."""

from dlkit.layers import BatchNormalization  # noqa: F401
