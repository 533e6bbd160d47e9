"""Check that a data file is the file the registry describes, by sha256.

A file is accepted when EITHER

1. the sha256 of its bytes equals ``FileSpec.gz_sha256`` (the ``.gz`` exactly as the public
   mirrors serve it; this is how downloads and the original files are verified), OR
2. ``FileSpec.payload_sha256`` is known and equals the sha256 of the file's decompressed
   bytes (a re-compressed copy with identical content, such as Debian's Fashion-MNIST).

Check 1 is tried first because it is cheaper (no decompression). Files for which only the
``.gz`` hash is known (the MNIST training files) can only pass check 1.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib

from dlkit.data.registry import FileSpec

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's bytes are not the ones the registry expects."""


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the bytes of ``path`` as stored on disk."""
    with open(path, "rb") as f:
        return _digest(f)


def sha256_payload(path: str | os.PathLike) -> str:
    """Hex sha256 of the decompressed bytes of the gzip file ``path``.

    Raises ``ChecksumError`` when ``path`` is not a complete gzip stream.
    """
    try:
        with gzip.open(path, "rb") as f:
            return _digest(f)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ChecksumError(f"{path}: not a complete gzip file ({exc})") from exc


def _digest(f) -> str:
    h = hashlib.sha256()
    while chunk := f.read(_CHUNK):
        h.update(chunk)
    return h.hexdigest()


def verify(path: str | os.PathLike, spec: FileSpec) -> str:
    """Check ``path`` against ``spec``; return how it was verified, or raise ``ChecksumError``.

    The returned text is ``"sha256 of .gz"`` or ``"sha256 of decompressed payload"``.
    The error names the file, the expected hash(es) and the hash(es) found.
    """
    got = sha256_file(path)
    if got == spec.gz_sha256:
        return "sha256 of .gz"
    message = f"{path}: sha256 {got} does not match the expected .gz sha256 {spec.gz_sha256}"
    if spec.payload_sha256 is None:
        raise ChecksumError(
            message + " (no decompressed-payload hash is known for this file, so only the "
            "original .gz is accepted)"
        )
    try:
        got_payload = sha256_payload(path)
    except ChecksumError as exc:
        raise ChecksumError(f"{message}, and {exc}") from exc
    if got_payload == spec.payload_sha256:
        return "sha256 of decompressed payload"
    raise ChecksumError(
        f"{message}, nor does its decompressed payload (sha256 {got_payload}) match the "
        f"expected payload sha256 {spec.payload_sha256}"
    )
