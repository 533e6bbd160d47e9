"""HOSTILE: at import, starts a process that ignores SIGTERM and SIGHUP, in a session of
its own where it may (else in the worker's), then never finishes importing, so the
assignment's time budget runs out while that process lives.  Nothing it started may
outlive the grading.
"""

import subprocess

import numpy as np

MARKER = "DLKIT-HOSTILE-SURVIVOR-MARKER"


def _start_survivor():
    cmd = ["/bin/sh", "-c", 'trap "" TERM HUP; sleep 600; true', MARKER]
    for new_session in (True, False):  # setsid is refused where the uid is the grader's
        try:
            return subprocess.Popen(cmd, start_new_session=new_session,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            continue
    return None


_SURVIVOR = _start_survivor()
while True:
    pass


def init_weight(n_in, n_out, scheme, rng):
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return np.zeros((n_in, n_out)) if scheme == "zeros" else rng.normal(0.0, std, (n_in, n_out))
