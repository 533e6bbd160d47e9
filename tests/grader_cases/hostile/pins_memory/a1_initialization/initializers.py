"""HOSTILE: correct init_weight; spread_stats pins memory that no rlimit counts, and raises
with what it got.

Memfds grown with ``posix_fallocate`` (no mapping: the worker's address space and RSS stay
small; each under the per-file size limit, 4 GiB in all), a System V shared memory segment
(it stays after the worker is gone) and a file in /dev/shm: memory outside the worker's
memory limit.  Where the
sandbox refuses them, the message reads "pinned 0 MiB".
"""

import ctypes
import os

import numpy as np

GIB = 2**30
WANT = 4 * GIB  # more than the worker's memory limit (3 GiB)


def init_weight(n_in, n_out, scheme, rng):
    if scheme == "zeros":
        return np.zeros((n_in, n_out))
    std = {"he": np.sqrt(2 / n_in), "xavier": np.sqrt(1 / n_in)}.get(scheme, scheme)
    return rng.normal(0.0, std, (n_in, n_out))


def _memfd(held, refused):
    size = 128 * 2**20  # each memfd under the per-file size limit; as many as it takes
    for _ in range(WANT // size):
        try:
            fd = os.memfd_create("hoard")
        except OSError as exc:
            refused.append(f"memfd_create: {exc.strerror}")
            return
        try:
            os.posix_fallocate(fd, 0, size)
            held.append(("memfd", size, fd))
        except OSError as exc:
            refused.append(f"posix_fallocate: {exc.strerror}")
            return


def _sysv(held, refused):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmget.restype = ctypes.c_int
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(0, ctypes.c_size_t(64 * 2**20), 0o1600)  # IPC_PRIVATE | IPC_CREAT
    if shmid < 0:
        refused.append(f"shmget: {os.strerror(ctypes.get_errno())}")
        return
    held.append(("sysv", 64 * 2**20, shmid))


def _dev_shm(held, refused):
    try:
        fd = os.open("/dev/shm/hoard", os.O_CREAT | os.O_RDWR, 0o600)
        os.posix_fallocate(fd, 0, 64 * 2**20)
        held.append(("/dev/shm", 64 * 2**20, fd))
    except OSError as exc:
        refused.append(f"/dev/shm: {exc.strerror}")


def spread_stats(z, activation):
    held, refused = [], []
    for route in (_memfd, _sysv, _dev_shm):
        route(held, refused)
    mib = sum(size for _kind, size, _handle in held) // 2**20
    raise RuntimeError(f"pinned {mib} MiB: {sorted({kind for kind, _s, _h in held})}; "
                       f"refused: {refused}")
