"""Downloads, verification, the search order and the parsed cache, against a real HTTP server.

The server is ``http.server`` on 127.0.0.1 in a thread; a small dataset of four IDX files
(written here) is described by its own ``Dataset`` registry entry with its own hashes. The
first path segment of a URL tells the server how to misbehave (see ``Handler``). Nothing
of pooch or requests is mocked, and the user's cache is never touched (``root=tmp_path``).
"""

import gzip
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from dlkit.data import cache
from dlkit.data.fetch import MIRROR_ENV, DownloadError, download, mirror_urls
from dlkit.data.idx import write_idx
from dlkit.data.locate import DATA_DIR_ENV, DatasetNotFoundError, data_dir
from dlkit.data.mnist import load_arrays, load_mnist
from dlkit.data.registry import ROLES, Dataset, FileSpec
from dlkit.data.verify import ChecksumError, verify

NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
SLOW_S = 5.0  # how long the "slow" mirror stalls before answering
TIMEOUT_S = 0.5  # the client's timeout in the tests that use the slow mirror


class Server:
    """State shared with the handler threads."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.hits: list[str] = []
        self.release = threading.Event()  # ends the stalls of the slow mirror at teardown
        self.gate = threading.Condition()
        self.gate_waiting = 0
        self.gate_size = 1
        self.url = ""


class Handler(BaseHTTPRequestHandler):
    """``/<mode>/.../<file name>``; modes: ok, 404, 500, slow, corrupt, truncated, gate.

    ``gate``: train-images requests are held until ``gate_size`` of them are waiting, then
    all are answered in small chunks, so that concurrent clients overlap for certain.
    """

    server_state: Server

    def do_GET(self):  # noqa: N802 - http.server's name
        state = self.server_state
        state.hits.append(self.path)
        mode = self.path.split("/")[1]
        name = self.path.rsplit("/", 1)[-1]
        if mode in ("404", "500") or name not in state.files:
            self.send_error(int(mode) if mode in ("404", "500") else 404)
            return
        data = state.files[name]
        if mode == "slow":
            state.release.wait(SLOW_S)
        elif mode == "corrupt":
            i = len(data) - 9  # the last byte of the deflate stream (before CRC32, ISIZE)
            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
        elif mode == "truncated":
            data = data[: len(data) // 2]
        elif mode == "gate" and name == NAMES["train_images"]:
            with state.gate:
                state.gate_waiting += 1
                state.gate.notify_all()
                state.gate.wait_for(lambda: state.gate_waiting >= state.gate_size, timeout=30)
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            step = 1 << 14 if mode == "gate" else len(data)
            for i in range(0, len(data), step):
                self.wfile.write(data[i : i + step])
                if mode == "gate":
                    time.sleep(0.002)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): expected for the slow mirror

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    state = Server()
    handler = type("BoundHandler", (Handler,), {"server_state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    """Neither the user's mirror nor the user's data folder can leak into these tests."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env-data-dir"))


def make_arrays(n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish(server, arrays, folder):
    """Write the four .gz files into ``folder``, serve them, return their FileSpecs."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = {}
    for role in ROLES:
        path = folder / NAMES[role]
        write_idx(path, arrays[role])
        data = path.read_bytes()
        server.files[NAMES[role]] = data
        specs[role] = FileSpec(NAMES[role], sha256(data), sha256(gzip.decompress(data)))
    return specs


def tiny(specs, mirrors, **kw):
    return Dataset(name="tiny", files=specs, mirrors=tuple(mirrors), license="test", **kw)


def no_part_files(folder: Path):
    return not list(folder.glob(".*.part"))


# --------------------------------------------------------------------------- download()


def test_first_mirror_404_second_used(server, tmp_path):
    specs = publish(server, make_arrays(), tmp_path / "src")
    ds = tiny(specs, [f"{server.url}/404/", f"{server.url}/ok/"])
    dest = tmp_path / "out" / NAMES["train_images"]
    url = download(ds, specs["train_images"], dest)
    assert url == f"{server.url}/ok/{NAMES['train_images']}"
    assert sha256(dest.read_bytes()) == specs["train_images"].gz_sha256
    assert server.hits == ["/404/" + NAMES["train_images"], "/ok/" + NAMES["train_images"]]
    assert no_part_files(dest.parent)


@pytest.mark.parametrize("bad", ["corrupt", "truncated"])
def test_wrong_bytes_rejected_then_next_mirror(server, tmp_path, bad):
    specs = publish(server, make_arrays(), tmp_path / "src")
    spec = specs["train_images"]
    dest = tmp_path / "out" / spec.name
    with pytest.raises(DownloadError, match="wrong bytes") as err:
        download(tiny(specs, [f"{server.url}/{bad}/"]), spec, dest)
    assert spec.gz_sha256 in str(err.value)
    assert not dest.exists(), "a file with the wrong hash must never reach its final name"
    assert no_part_files(dest.parent)
    url = download(tiny(specs, [f"{server.url}/{bad}/", f"{server.url}/ok/"]), spec, dest)
    assert url.startswith(f"{server.url}/ok/")
    assert sha256(dest.read_bytes()) == spec.gz_sha256


def test_slow_mirror_times_out_then_fallback(server, tmp_path):
    specs = publish(server, make_arrays(), tmp_path / "src")
    spec = specs["test_labels"]
    dest = tmp_path / "out" / spec.name
    ds = tiny(specs, [f"{server.url}/slow/", f"{server.url}/ok/"])
    start = time.perf_counter()
    url = download(ds, spec, dest, timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - start
    assert url.startswith(f"{server.url}/ok/")
    # it gave up on the stalled mirror after about the timeout, long before the stall ended
    assert TIMEOUT_S <= elapsed < SLOW_S - 1, elapsed
    assert sha256(dest.read_bytes()) == spec.gz_sha256


def test_all_mirrors_fail_error_names_every_url_and_reason(server, tmp_path):
    specs = publish(server, make_arrays(), tmp_path / "src")
    spec = specs["train_labels"]
    modes = ["404", "500", "slow", "corrupt"]
    ds = tiny(specs, [f"{server.url}/{m}/" for m in modes])
    dest = tmp_path / "out" / spec.name
    with pytest.raises(DownloadError) as err:
        download(ds, spec, dest, timeout=TIMEOUT_S)
    message = str(err.value)
    reasons = ["HTTP 404", "HTTP 500", f"no answer within the {TIMEOUT_S:g} s timeout",
               "wrong bytes"]
    tried = [url for url, _ in err.value.attempts]
    assert tried == [f"{server.url}/{m}/{spec.name}" for m in modes]
    for (url, why), expected in zip(err.value.attempts, reasons, strict=True):
        assert expected in why
        assert f"{url}: {why}" in message
    assert f"Put the file by hand at {dest}" in message
    assert "dlkit data import" in message and MIRROR_ENV in message
    assert not dest.exists() and no_part_files(dest.parent)


def test_unreachable_host_is_reported(tmp_path):
    specs = {r: FileSpec(NAMES[r], "0" * 64) for r in ROLES}
    ds = tiny(specs, ["http://127.0.0.1:9/"])  # port 9 (discard): nothing listens
    with pytest.raises(DownloadError, match="connection failed"):
        download(ds, specs["test_labels"], tmp_path / "x.gz", timeout=TIMEOUT_S)


def test_course_mirror_is_tried_first(server, tmp_path, monkeypatch):
    specs = publish(server, make_arrays(), tmp_path / "src")
    ds = tiny(specs, [f"{server.url}/404/"])
    monkeypatch.setenv(MIRROR_ENV, f"{server.url}/ok/course/")
    assert mirror_urls(ds, specs["test_images"]) == [
        f"{server.url}/ok/course/tiny/{NAMES['test_images']}",
        f"{server.url}/404/{NAMES['test_images']}",
    ]
    url = download(ds, specs["test_images"], tmp_path / "out" / NAMES["test_images"])
    assert url == f"{server.url}/ok/course/tiny/{NAMES['test_images']}"
    assert server.hits == [f"/ok/course/tiny/{NAMES['test_images']}"]


# ------------------------------------------------------------- load_mnist over the network


def test_load_downloads_parses_and_caches(server, tmp_path):
    arrays = make_arrays()
    ds = tiny(publish(server, arrays, tmp_path / "src"), [f"{server.url}/ok/"])
    root = tmp_path / "root"
    (x, t), (xt, tt) = load_mnist(dataset=ds, root=root)
    # the book's dtypes: float32 images (pixel / 255 computed in float32), uint8 labels
    assert x.shape == (12, 784) and xt.shape == (5, 784) and x.dtype == np.float32
    book = arrays["train_images"].reshape(12, 784).astype(np.float32)
    book /= 255.0
    np.testing.assert_array_equal(x, book)
    np.testing.assert_array_equal(t, arrays["train_labels"])
    assert t.dtype == np.uint8 and tt.dtype == np.uint8
    assert sorted(p.name for p in (root / "tiny").iterdir()) == sorted(
        [*NAMES.values(), "tiny.npz"]
    )
    assert len(server.hits) == 4

    # The second load comes from the cache: the server is not asked again.
    cached = cache.load(cache.cache_path(root / "tiny", ds), ds)
    assert cached is not None
    (x2, _), (xt2, _) = load_mnist(False, False, True, dataset=ds, root=root, download=False,
                                   dtype=np.float32)
    assert len(server.hits) == 4
    assert x2.shape == (12, 1, 28, 28) and x2.dtype == np.float32
    np.testing.assert_array_equal(x2[:, 0], arrays["train_images"])
    (x64, _), _ = load_mnist(dataset=ds, root=root, download=False, dtype=np.float64)
    assert x64.dtype == np.float64
    np.testing.assert_array_equal(x64, arrays["train_images"].reshape(12, 784) / 255.0)
    (x8, _), _ = load_mnist(normalize=False, dataset=ds, root=root, download=False)
    assert x8.dtype == np.uint8  # the book's raw bytes
    np.testing.assert_array_equal(x8, arrays["train_images"].reshape(12, 784))
    (_, t_onehot), _ = load_mnist(one_hot_label=True, dataset=ds, root=root, download=False)
    assert t_onehot.shape == (12, 10) and t_onehot.dtype == np.float64  # the book's np.zeros
    np.testing.assert_array_equal(t_onehot.argmax(axis=1), arrays["train_labels"])
    np.testing.assert_array_equal(t_onehot.sum(axis=1), np.ones(12))


def test_returned_arrays_do_not_alias_the_cache(server, tmp_path):
    ds = tiny(publish(server, make_arrays(), tmp_path / "src"), [f"{server.url}/ok/"])
    (x, _), _ = load_mnist(False, dataset=ds, root=tmp_path, dtype=np.uint8)
    x[:] = 0
    (x2, _), _ = load_mnist(False, dataset=ds, root=tmp_path, dtype=np.uint8)
    assert x2.any()


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_damaged_file_in_root(server, tmp_path, damage):
    arrays = make_arrays()
    specs = publish(server, arrays, tmp_path / "src")
    ds = tiny(specs, [f"{server.url}/ok/"])
    load_mnist(dataset=ds, root=tmp_path)
    path = tmp_path / "tiny" / NAMES["train_images"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[::-1])

    # download=False: an error naming the file and the expected hash (not the stale cache)
    with pytest.raises(DatasetNotFoundError) as err:
        load_mnist(dataset=ds, root=tmp_path, download=False)
    assert str(path) in str(err.value) and specs["train_images"].gz_sha256 in str(err.value)

    # download=True: downloaded again, verified, and the data are right
    hits = len(server.hits)
    (x, _), _ = load_mnist(False, dataset=ds, root=tmp_path, dtype=np.uint8)
    assert server.hits[hits:] == [f"/ok/{NAMES['train_images']}"]
    assert verify(path, specs["train_images"]) == "sha256 of .gz"
    np.testing.assert_array_equal(x.reshape(-1, 28, 28), arrays["train_images"])


def test_cache_invalidated_when_a_source_changes(server, tmp_path):
    arrays = make_arrays()
    ds = tiny(publish(server, arrays, tmp_path / "src"), [f"{server.url}/404/"])
    folder = tmp_path / "tiny"
    for name in NAMES.values():
        (folder).mkdir(exist_ok=True)
        (folder / name).write_bytes(server.files[name])
    load_arrays(ds, tmp_path, download=False)
    npz = cache.cache_path(folder, ds)
    assert cache.load(npz, ds) is not None

    # Same content, compressed differently (as Debian did): new bytes, same payload.
    path = folder / NAMES["test_labels"]
    recompressed = gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=1)
    assert recompressed != path.read_bytes()
    path.write_bytes(recompressed)
    assert cache.load(npz, ds) is None, "a changed source must invalidate the parsed cache"
    got = load_arrays(ds, tmp_path, download=False)
    np.testing.assert_array_equal(got["test_labels"], arrays["test_labels"])
    assert cache.load(npz, ds) is not None


def test_unreadable_cache_is_rebuilt(server, tmp_path):
    arrays = make_arrays()
    ds = tiny(publish(server, arrays, tmp_path / "src"), [f"{server.url}/ok/"])
    load_arrays(ds, tmp_path)
    npz = cache.cache_path(tmp_path / "tiny", ds)
    npz.write_bytes(npz.read_bytes()[:1000])  # a torn cache file
    got = load_arrays(ds, tmp_path, download=False)
    np.testing.assert_array_equal(got["train_images"], arrays["train_images"])
    assert cache.load(npz, ds) is not None


def test_system_dir_verified_by_decompressed_payload(server, tmp_path):
    """Like Debian's Fashion-MNIST: re-gzipped copies, accepted because the payload matches."""
    arrays = make_arrays()
    specs = publish(server, arrays, tmp_path / "src")
    system = tmp_path / "usr-share"
    system.mkdir()
    for name, data in server.files.items():
        (system / name).write_bytes(gzip.compress(gzip.decompress(data), mtime=0))
    ds = tiny(specs, [f"{server.url}/404/"], system_dirs=(system,))
    got = load_arrays(ds, tmp_path / "root", download=False)
    np.testing.assert_array_equal(got["train_images"], arrays["train_images"])
    assert server.hits == []
    for role, spec in specs.items():
        assert verify(system / NAMES[role], spec) == "sha256 of decompressed payload"

    # Where only the .gz hash is known (MNIST's training files), a re-gzipped copy is refused.
    no_payload = {r: FileSpec(s.name, s.gz_sha256) for r, s in specs.items()}
    with pytest.raises(ChecksumError, match="only the original .gz is accepted"):
        verify(system / NAMES["train_images"], no_payload["train_images"])
    with pytest.raises(DatasetNotFoundError, match="rejected"):
        load_arrays(tiny(no_payload, [], system_dirs=(system,)), tmp_path / "r2", download=False)


def test_missing_without_download_lists_where_it_looked(tmp_path):
    specs = {r: FileSpec(NAMES[r], "0" * 64) for r in ROLES}
    ds = tiny(specs, ["http://127.0.0.1:9/"], system_dirs=(tmp_path / "system",))
    with pytest.raises(DatasetNotFoundError) as err:
        load_mnist(dataset=ds, root=tmp_path / "root", download=False)
    message = str(err.value)
    assert str(tmp_path / "root" / "tiny" / NAMES["train_images"]) in message
    assert str(tmp_path / "system" / NAMES["train_images"]) in message
    assert "download=False" in message


def test_data_dir_precedence(tmp_path, monkeypatch):
    assert data_dir(tmp_path / "r") == tmp_path / "r"
    assert data_dir() == tmp_path / "env-data-dir"
    monkeypatch.delenv(DATA_DIR_ENV)
    import pooch

    assert data_dir() == Path(pooch.os_cache("dlkit"))


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"dataset": "cifar"}, ValueError, r"dataset: expected one of \[.*'mnist'\], got 'cifar'"),
        ({"dtype": np.int32}, TypeError, "dtype: expected a float dtype"),
        ({"dtype": np.uint8}, TypeError, "uint8 with normalize=False.*normalize=True"),
        ({"dtype": "nonsense"}, TypeError, "dtype: expected a NumPy float dtype"),
        ({"normalize": "yes"}, TypeError, "normalize: expected True or False, got 'yes'"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        load_mnist(**kwargs)


# ------------------------------------------------------------------------- concurrency

CHILD = """
import hashlib, json, sys
import numpy as np
from dlkit.data import load_mnist
from dlkit.data.registry import Dataset, FileSpec
spec = json.loads(sys.argv[1])
ds = Dataset(name="tiny", files={r: FileSpec(*f) for r, f in spec["files"].items()},
             mirrors=tuple(spec["mirrors"]), license="test")
(x, t), (xt, tt) = load_mnist(False, dataset=ds, root=spec["root"], dtype=np.uint8)
print(hashlib.sha256(x.tobytes() + t.tobytes() + xt.tobytes() + tt.tobytes()).hexdigest())
"""


def test_processes_loading_at_once_never_corrupt_the_cache(server, tmp_path):
    n_procs = 3
    arrays = make_arrays(n_train=1000, n_test=200)
    specs = publish(server, arrays, tmp_path / "src")
    server.gate_size = n_procs  # every process is inside the same download at the same time
    root = tmp_path / "root"
    arg = json.dumps({
        "files": {r: [s.name, s.gz_sha256, s.payload_sha256] for r, s in specs.items()},
        "mirrors": [f"{server.url}/gate/"],
        "root": str(root),
    })
    env = {**os.environ, DATA_DIR_ENV: str(tmp_path / "unused")}
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, arg], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(n_procs)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    expected = hashlib.sha256(  # the child's bytes: uint8 images, uint8 labels
        arrays["train_images"].tobytes() + arrays["train_labels"].tobytes()
        + arrays["test_images"].tobytes() + arrays["test_labels"].tobytes()
    ).hexdigest()
    assert [out.strip() for out, _ in outs] == [expected] * n_procs
    train_hits = [h for h in server.hits if h.endswith(NAMES["train_images"])]
    assert len(train_hits) == n_procs, "the processes did not download at the same time"
    folder = root / "tiny"
    assert no_part_files(folder)
    for spec in specs.values():
        verify(folder / spec.name, spec)
    ds = tiny(specs, [])
    cached = cache.load(cache.cache_path(folder, ds), ds)
    assert cached is not None
    np.testing.assert_array_equal(cached["train_images"], arrays["train_images"])
