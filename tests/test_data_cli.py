"""``dlkit data fetch | info | import`` through the argparse parser the CLI builds.

A course mirror is a real ``http.server`` serving a folder with ``mnist/`` and
``fashion-mnist/`` subfolders (what ``DLKIT_MIRROR`` documents). The registry entries are
pointed at small files written here, with their own hashes and no public mirrors, so no
test can reach the internet; the data folder is always a temporary ``--root``.
"""

import argparse
import functools
import hashlib
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from dlkit.data import cache, registry
from dlkit.data.cli import add_parser
from dlkit.data.idx import write_idx
from dlkit.data.registry import ROLES, Dataset, FileSpec

NAMES = dict(zip(ROLES, ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], strict=True))


def run(*argv) -> int:
    parser = argparse.ArgumentParser(prog="dlkit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *argv])
    return args.func(args)


def write_dataset(folder, name, seed):
    """Four small IDX .gz files in ``folder``; returns the Dataset describing them."""
    rng = np.random.default_rng(seed)
    n = {"train": 12, "test": 5}
    arrays = {}
    for split in ("train", "test"):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n[split], 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 10, n[split], dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    specs = {}
    for role in ROLES:
        write_idx(folder / NAMES[role], arrays[role])
        digest = hashlib.sha256((folder / NAMES[role]).read_bytes()).hexdigest()
        specs[role] = FileSpec(NAMES[role], digest)
    return Dataset(name=name, files=specs, mirrors=(), license=f"license of {name}")


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A course mirror over HTTP holding two small datasets registered as mnist/fashion-mnist."""
    site = tmp_path / "site"
    datasets = {name: write_dataset(site / name, name, seed)
                for seed, name in enumerate(["mnist", "fashion-mnist"])}
    for name, ds in datasets.items():
        monkeypatch.setitem(registry.DATASETS, name, ds)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("DLKIT_MIRROR", f"http://127.0.0.1:{httpd.server_address[1]}/")
    yield site, datasets
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def private_env(monkeypatch, tmp_path):
    monkeypatch.delenv("DLKIT_MIRROR", raising=False)
    monkeypatch.setenv("DLKIT_DATA_DIR", str(tmp_path / "env-data-dir"))


def test_fetch_all_from_course_mirror(mirror, tmp_path, capsys):
    site, datasets = mirror
    root = tmp_path / "root"
    assert run("fetch", "all", "--root", str(root)) == 0
    out = capsys.readouterr().out
    for name, ds in datasets.items():
        assert f"{name}: ok (12 training, 5 test images; license of {name})" in out
        for spec in ds.files.values():
            assert (root / name / spec.name).read_bytes() == (site / name / spec.name).read_bytes()
        assert cache.load(cache.cache_path(root / name, ds), ds) is not None

    assert run("info", "--root", str(root)) == 0
    out = capsys.readouterr().out
    assert out.count("verified: sha256 of .gz") == 8
    assert out.count("(fresh)") == 2 and "missing" not in out


def test_fetch_failure_exit_status_and_message(mirror, tmp_path, capsys):
    site, _ = mirror
    (site / "mnist" / NAMES["train_labels"]).unlink()  # the mirror lacks one file
    root = tmp_path / "root"
    assert run("fetch", "mnist", "--root", str(root), "--timeout", "5") == 1
    err = capsys.readouterr().err
    assert "mnist: FAILED" in err
    assert f"/mnist/{NAMES['train_labels']}: HTTP 404" in err
    assert f"Put the file by hand at {root / 'mnist' / NAMES['train_labels']}" in err


def test_info_names_licenses_and_what_is_missing(tmp_path, capsys):
    """The real registry; info never downloads, so this is offline whatever the machine."""
    assert run("info", "--root", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "CC BY-SA 3.0 (Yann LeCun, Corinna Cortes, Christopher J.C. Burges)" in out
    assert "MIT (Zalando SE)" in out
    assert f"data folder: {tmp_path}" in out
    assert "missing  train-images-idx3-ubyte.gz" in out  # MNIST training files: never here
    debian = registry.FASHION_MNIST.system_dirs[0]
    if (debian / NAMES["train_images"]).is_file():
        assert f"ok       {debian / NAMES['train_images']}" in out
        assert "verified: sha256 of decompressed payload" in out


def test_info_reports_a_corrupted_file(mirror, tmp_path, capsys):
    _, datasets = mirror
    bad = tmp_path / "root" / "mnist" / NAMES["test_labels"]
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the labels")
    assert run("info", "--root", str(tmp_path / "root")) == 0
    out = capsys.readouterr().out
    expected = datasets["mnist"].files["test_labels"].gz_sha256
    assert f"CORRUPT  {bad}: sha256" in out and expected in out


def test_import_recognizes_each_file_by_its_hash(mirror, tmp_path, capsys):
    """torchvision's layout: the two datasets' files have the same names in two folders."""
    site, datasets = mirror
    user = tmp_path / "downloads"
    for name, sub in (("mnist", "MNIST/raw"), ("fashion-mnist", "FashionMNIST/raw")):
        (user / sub).mkdir(parents=True)
        for spec in datasets[name].files.values():
            (user / sub / spec.name).write_bytes((site / name / spec.name).read_bytes())
    root = tmp_path / "root"
    assert run("import", str(user), "--root", str(root)) == 0
    out = capsys.readouterr().out
    assert out.count("(verified: sha256 of .gz)") == 8
    for name, ds in datasets.items():
        for spec in ds.files.values():
            assert (root / name / spec.name).read_bytes() == (site / name / spec.name).read_bytes()


def test_import_refuses_unknown_bytes(mirror, tmp_path, capsys):
    user = tmp_path / "downloads"
    user.mkdir()
    (user / NAMES["train_images"]).write_bytes(b"\x1f\x8b something else")
    root = tmp_path / "root"
    assert run("import", str(user), "--root", str(root)) == 1
    assert "matches no known hash" in capsys.readouterr().err
    assert not (root / "mnist" / NAMES["train_images"]).exists()
    assert not (root / "fashion-mnist" / NAMES["train_images"]).exists()


def test_import_needs_a_folder(tmp_path, capsys):
    assert run("import", str(tmp_path / "nope")) == 2
    assert "expected a folder" in capsys.readouterr().err
