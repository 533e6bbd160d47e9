"""Download one dataset file, trying mirrors in order, and never leave a half-written file.

Mirrors tried, in order:

1. ``$DLKIT_MIRROR/<dataset>/<file name>`` when the environment variable ``DLKIT_MIRROR``
   is set (a course's own server, or ``python -m http.server`` in a folder holding
   ``mnist/`` and ``fashion-mnist/`` subfolders); the dataset subfolder is needed because
   both datasets use the same file names;
2. the public mirrors of the registry, ``<mirror><file name>``.

Each download goes through pooch's ``HTTPDownloader`` (requests; a tqdm progress bar when
stderr is a terminal) into a temporary file next to the destination, named
``.<file name>.<pid>.<random>.part``. Only after its sha256 has been verified (see
``dlkit.data.verify``) is it given the destination name, atomically (``os.link``, which
fails if the name exists, else ``os.replace``): another process sees either no file or the
complete verified file, never a partial one. Two processes downloading at once each write
their own temporary file; the first verified copy to arrive keeps the name (so its size and
modification time, which the parsed cache remembers, do not change under the other process),
and a later one replaces it only if it is not a good copy.

pooch has no fallback across mirrors, so the loop over mirrors is here.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pooch

from dlkit.data.registry import Dataset, FileSpec
from dlkit.data.verify import ChecksumError, verify

MIRROR_ENV = "DLKIT_MIRROR"
#: Seconds to wait for the server to answer or to send the next bytes (requests' timeout).
DEFAULT_TIMEOUT = 30.0


class DownloadError(OSError):
    """No mirror delivered a file with the expected hash.

    ``attempts`` lists ``(url, reason)`` for every URL tried.
    """

    def __init__(self, message: str, attempts: list[tuple[str, str]]):
        super().__init__(message)
        self.attempts = attempts


def mirror_urls(dataset: Dataset, spec: FileSpec) -> list[str]:
    """The URLs to try for ``spec``, in order: ``$DLKIT_MIRROR`` first, then the registry's."""
    urls = []
    env = os.environ.get(MIRROR_ENV, "").strip()
    if env:
        urls.append(f"{env.rstrip('/')}/{dataset.name}/{spec.name}")
    urls.extend(mirror + spec.name for mirror in dataset.mirrors)
    return urls


def _reason(exc: BaseException, timeout: float) -> str:
    """A short human reason for a failed attempt."""
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no answer within the {timeout:g} s timeout"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason}"
    if isinstance(exc, requests.ConnectionError):
        cause = getattr(exc.args[0], "reason", exc) if exc.args else exc  # urllib3's reason
        return f"connection failed: {str(cause).rsplit('): ', 1)[-1]}"
    if isinstance(exc, ChecksumError):
        return f"wrong bytes: {str(exc).split(': ', 1)[-1]}"
    return f"{type(exc).__name__}: {exc}"


def _publish(tmp: Path, dest: Path, spec: FileSpec) -> None:
    """Give the verified ``tmp`` the name ``dest``, keeping a good copy already there."""
    try:
        os.link(tmp, dest)  # atomic; fails when dest exists
        return
    except FileExistsError:
        try:
            verify(dest, spec)
            return  # another process put a verified copy there first
        except (ChecksumError, OSError):
            pass  # a bad copy: replace it
    except OSError:
        pass  # no hard links on this file system
    os.replace(tmp, dest)


def download(
    dataset: Dataset,
    spec: FileSpec,
    dest: str | os.PathLike,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progressbar: bool | None = None,
) -> str:
    """Download ``spec`` to ``dest`` from the first mirror that delivers the right bytes.

    Returns the URL the file came from. Raises ``DownloadError`` naming every URL tried and
    why it failed (HTTP status, timeout, connection error, wrong sha256) and where to put the
    file by hand. ``progressbar=None`` shows a bar only when stderr is a terminal.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)
    urls = mirror_urls(dataset, spec)
    attempts: list[tuple[str, str]] = []
    for url in urls:
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
        try:
            downloader(url, str(tmp), None)
            verify(tmp, spec)
            _publish(tmp, dest, spec)
            return url
        except Exception as exc:  # any failure (HTTP, timeout, hash, disk): try the next mirror
            attempts.append((url, _reason(exc, timeout)))
        finally:
            tmp.unlink(missing_ok=True)
    tried = "\n".join(f"  {url}: {why}" for url, why in attempts) or "  (no mirror configured)"
    raise DownloadError(
        f"could not download {spec.name} of {dataset.name!r}; tried:\n{tried}\n"
        f"Put the file by hand at {dest} (or run `dlkit data import DIR` on a folder "
        f"holding it), or set {MIRROR_ENV} to a server that has "
        f"${MIRROR_ENV}/{dataset.name}/{spec.name}.",
        attempts,
    )
