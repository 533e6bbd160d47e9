"""Functions the sandbox tests call in the worker (see ../README.md)."""

import ctypes
import importlib
import os
import socket
import time

import numpy as np


def normal(n, m, rng):
    print("normal() was called")
    return rng.normal(size=(n, m))


def double_into(x, out):
    out[:] = 2 * x
    x[:] = -1  # the caller's copy must not change


def answer():
    return 42


def sleep(seconds):
    time.sleep(seconds)


def spin():
    while True:
        pass


def fail(text):
    print("about to fail")
    raise ValueError(f"fail() got {text}")


def segfault():
    ctypes.string_at(0)


def import_module(name):
    importlib.import_module(name)


def dlkit_attr(module, name):
    return getattr(importlib.import_module(module), name).__name__


def forge_reply():
    """Write a garbled message to every pipe this process can write to."""
    for fd in range(3, 256):
        try:
            if os.fstat(fd).st_mode & 0o170000 == 0o010000:  # a FIFO
                os.write(fd, b"\x00\x00\x00\x05{bad}")
        except OSError:
            pass
    time.sleep(5)


def facts(grader_dir):
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1).close()
        network = True
    except OSError:
        network = False
    grader_files = os.listdir(grader_dir) if os.path.isdir(grader_dir) else []
    return {"uid": os.getuid(), "pid": os.getpid(),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "network": network, "grader_files": grader_files,
            "cwd_is_private": os.stat(".").st_uid == os.getuid()}


class Accumulator:
    def __init__(self, total):
        self.total = float(total)

    def add(self, values):
        self.total += float(np.sum(values))
        return self.total

    def child(self):
        return _Child(self.total)


class _Child:
    def __init__(self, parent_total):
        self.parent_total = parent_total
