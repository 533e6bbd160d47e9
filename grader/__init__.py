"""dlkit's autograder: hidden checks and a runner students cannot fool.

Modules: ``cli`` (``dlkit-grade``), ``runner`` (one trusted pytest process per assignment,
points), ``plugin`` (the checks' fixtures and results file), ``sandbox`` (the trusted
handle on a worker), ``policy`` (what a worker is told), ``isolation`` (the levels and what
they hide), ``channel`` (the pipes to a worker), ``timing`` (timed runs, both ends),
``worker`` (the process that runs student code; ``mounts``, ``confine``, ``blocking``),
``protocol`` (the wire format: JSON + raw array bytes, never pickle), ``submission``
(folders and zips, safely), ``report`` (text, json, gradescope, junit), ``batch``,
``release``, ``bundle``; ``checks/`` holds the hidden checks and ``points.toml`` the points.
"""
