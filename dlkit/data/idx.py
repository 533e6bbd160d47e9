"""Read and write IDX files, the format MNIST and Fashion-MNIST are distributed in.

An IDX file (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS") is::

    magic   4 bytes: 0x00 0x00 <type code> <ndim>
    dims    ndim big-endian uint32: the size of each dimension
    payload prod(dims) values of the type, big-endian, C order (last index fastest)

Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
MNIST images are ``0x00000803`` (uint8, 3 dims: N x 28 x 28) and labels ``0x00000801``
(uint8, 1 dim: N). Files are often gzip-compressed; gzip is recognized by its own magic
bytes (0x1f 0x8b), not by the file name.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

#: IDX type code -> big-endian NumPy dtype of the payload.
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class IDXFormatError(ValueError):
    """The bytes are not a complete, well-formed IDX file."""


def _open(path: str | os.PathLike):
    """Open ``path`` for reading bytes, through gzip when it starts with the gzip magic."""
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == _GZIP_MAGIC else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a NumPy array.

    Returns an array of shape ``dims`` (as written in the header) in the native byte order of
    the type code (uint8 for MNIST). The array is a fresh, writable copy.

    Raises ``IDXFormatError`` (a ``ValueError``) naming the file when the magic number is not
    ``0x0000 <type code> <ndim>``, the type code is unknown, the header is cut short, or the
    payload is shorter or longer than ``prod(dims) * itemsize`` bytes; ``FileNotFoundError``
    when the file does not exist.
    """
    path = os.fspath(path)
    try:
        with _open(path) as f:
            magic = f.read(4)
            if len(magic) < 4:
                raise IDXFormatError(
                    f"{path}: expected a 4-byte IDX magic number, the file has {len(magic)} bytes"
                )
            zero, type_code, ndim = struct.unpack(">HBB", magic)
            if zero != 0 or type_code not in TYPE_CODES or ndim == 0:
                raise IDXFormatError(
                    f"{path}: bad IDX magic number 0x{magic.hex()}: expected 0x0000 followed by a "
                    f"type code in {{{', '.join(f'0x{c:02x}' for c in TYPE_CODES)}}} and a number "
                    "of dimensions >= 1 (e.g. 0x00000803 for MNIST images)"
                )
            header = f.read(4 * ndim)
            if len(header) < 4 * ndim:
                raise IDXFormatError(
                    f"{path}: truncated IDX header: {ndim} dimensions need {4 * ndim} bytes, "
                    f"only {len(header)} present"
                )
            dims = struct.unpack(f">{ndim}I", header)
            dtype = TYPE_CODES[type_code]
            out = np.empty(dims, dtype=dtype)
            expected = out.nbytes
            view = memoryview(out.reshape(-1).view(np.uint8))  # type: ignore[arg-type]
            got = 0
            while got < expected:
                n = f.readinto(view[got:])
                if not n:
                    break
                got += n
            if got < expected:
                raise IDXFormatError(
                    f"{path}: truncated IDX payload: the header promises shape {dims} of "
                    f"{dtype.name} = {expected} bytes, only {got} bytes present"
                )
            extra = len(f.read(1 << 16))
            if extra:
                raise IDXFormatError(
                    f"{path}: the IDX payload is longer than the header says: shape {dims} of "
                    f"{dtype.name} = {expected} bytes, followed by at least {extra} more bytes"
                )
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IDXFormatError(f"{path}: damaged or truncated gzip stream ({exc})") from exc
    return out.astype(dtype.newbyteorder("="), copy=False)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (the inverse of ``read_idx``).

    ``array.dtype`` must be one of the IDX types (uint8, int8, int16, int32, float32, float64).
    ``compress`` defaults to ``True`` when the file name ends in ``.gz``.
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in TYPE_CODES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise TypeError(
            f"array: expected one of the IDX dtypes {sorted(str(d) for d in codes)}, "
            f"got {array.dtype}"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"array: expected 1 to 255 dimensions, got {array.ndim}")
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    header = struct.pack(">HBB", 0, codes[native], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=native.newbyteorder(">")).tobytes()
    with open(path, "wb") as raw:
        if compress:  # mtime=0: the same array always gives the same bytes (and sha256)
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
                f.write(header + payload)
        else:
            raw.write(header + payload)
