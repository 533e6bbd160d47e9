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
    try:
        grader_files = os.listdir(grader_dir)
    except OSError:  # hidden (namespaces) or not to be opened (Landlock)
        grader_files = []
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


def reach_dlkit(route):
    """Try one way of reaching dlkit's own answers; returns what it got (a type name)."""
    import gc
    import sys

    x = np.arange(12.0).reshape(4, 3)
    if route == "init_weight":
        return type(importlib.import_module("dlkit.initializers").init_weight).__name__
    if route == "histograms":
        return type(__import__("dlkit.experiments.histograms", fromlist=["x"])).__name__
    if route == "multilayernet_bn":
        net = importlib.import_module("dlkit.network").MultiLayerNet(3, [4], 2,
                                                                     use_batchnorm=True)
        return type(net.predict(x)).__name__
    if route == "layers_bn_sys_modules":
        importlib.import_module("dlkit.layers")
        return type(sys.modules["dlkit.layers"].BatchNormalization).__name__
    if route == "reference_bn":
        return type(importlib.import_module("dlkit.reference").BatchNormalization).__name__
    if route == "kernels_bn":
        return type(importlib.import_module("dlkit.kernels").batchnorm_forward_train).__name__
    if route == "bn_subclass":  # dlkit.layers' class, found without its name in a module
        importlib.import_module("dlkit.layers")
        cls = next(c for c in object.__subclasses__() if c.__name__ == "BatchNormalization")
        return type(cls(np.ones(3), np.zeros(3)).forward(x)).__name__
    if route == "bn_kernel_gc":  # a compiled dispatcher left in memory
        importlib.import_module("dlkit.layers")
        found = [o for o in gc.get_objects()
                 if getattr(o, "__name__", "") == "batchnorm_forward_train"]
        return type(found[0]).__name__ if found else "nothing found"
    if route == "reimport_without_hook":  # remove the grader's import hook, import again
        sys.meta_path[:] = [f for f in sys.meta_path if "Blocked" not in type(f).__name__]
        for name in [n for n in sys.modules if n.startswith("dlkit")]:
            del sys.modules[name]
        layers = importlib.import_module("dlkit.layers")
        return type(layers.BatchNormalization(np.ones(3), np.zeros(3)).forward(x)).__name__
    raise ValueError(route)


def read_bytes(path):
    with open(path, "rb") as f:
        return len(f.read())


def listdir(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


def environ():
    return dict(os.environ)


def kernel_cache_use():
    """The worker's Numba cache entries, and whether dlkit's relu kernel came from them."""
    cache = os.environ["NUMBA_CACHE_DIR"]
    entries = sorted(name for _, _, files in os.walk(cache) for name in files)
    from dlkit import kernels

    x = np.ones((2, 3))
    kernels.relu_forward(x, np.empty_like(x))
    return {"entries": entries, "hits": sum(kernels.relu_forward.stats.cache_hits.values()),
            "misses": sum(kernels.relu_forward.stats.cache_misses.values())}
