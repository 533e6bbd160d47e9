"""`dlkit demo`: trains on the real Fashion-MNIST, and fails clearly when there is no data.

The demo runs as the real command, ``python -m dlkit demo ...``, in a subprocess.
"""

import argparse
import http.server
import os
import re
import socket
import subprocess
import sys
import threading

import pytest


def run_demo(*argv, env=None, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "dlkit", "demo", *argv],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """An empty data folder of our own: the demo finds Fashion-MNIST in the system folder
    and writes its parsed-array cache here, not in the user's cache."""
    return tmp_path_factory.mktemp("dlkit-data")


def test_demo_trains_on_fashion_mnist(data_dir, fashion_mnist_dir):
    env = {"DLKIT_DATA_DIR": str(data_dir)}
    argv = ["--dataset", "fashion-mnist", "--steps", "50", "--seed", "3"]
    first = run_demo(*argv, env=env)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "784-100-100-100-100-10 ReLU, He init, BatchNorm" in out
    losses = [float(v) for v in re.findall(r"^step +\d+  loss (\S+)", out, re.M)]
    assert len(losses) == 2  # steps 1 and 50
    assert losses[-1] < 0.8 * losses[0]  # ~2.5 at the start, ~1.7 over steps 2-50
    test_acc = float(re.search(r"test accuracy (\S+)", out).group(1))
    assert 0.4 < test_acc <= 1.0  # chance is 0.1; 50 steps of BN-SGD reach ~0.6



def test_demo_same_seed_same_numbers(fashion_mnist_dir, data_dir, monkeypatch, capsys):
    """In-process (the subprocess path is tested above): the seed fixes batches and weights."""
    from dlkit import demo

    monkeypatch.setenv("DLKIT_DATA_DIR", str(data_dir))

    def numbers(seed):  # the printed lines, but the timing line
        args = argparse.Namespace(dataset="fashion-mnist", steps=5, seed=seed)
        assert demo.run(args) == 0
        out = capsys.readouterr().out
        return [line for line in out.splitlines() if not line.startswith("trained")]

    first = numbers(3)
    assert numbers(3) == first
    assert numbers(4) != first


@pytest.fixture
def empty_mirror(tmp_path):
    """A real HTTP server on 127.0.0.1 serving an empty folder: every file is a 404."""
    root = tmp_path / "mirror"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_without_data_prints_the_loaders_error_and_fails(tmp_path, empty_mirror):
    dead_proxy = f"http://127.0.0.1:{_closed_port()}"  # the public mirrors are unreachable
    env = {
        "DLKIT_DATA_DIR": str(tmp_path / "nothing-here"),
        "DLKIT_MIRROR": empty_mirror,
        "HTTP_PROXY": dead_proxy, "HTTPS_PROXY": dead_proxy,
        "http_proxy": dead_proxy, "https_proxy": dead_proxy,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    }  # fmt: skip
    result = run_demo("--dataset", "mnist", "--steps", "5", env=env, timeout=300)
    assert result.returncode == 1
    err = result.stderr
    assert "Traceback" not in err
    assert "dlkit demo: cannot load 'mnist'" in err
    assert f"{empty_mirror}/mnist/train-images-idx3-ubyte.gz: HTTP 404" in err  # the loader's
    assert str(tmp_path / "nothing-here" / "mnist") in err  # where to put the files
    assert result.stdout == ""  # no training happened


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--steps", "0"], ["--steps", "expected a positive integer, got 0"]),
        (["--steps", "many"], ["--steps", "'many'"]),
        (["--dataset", "cifar10"], ["--dataset", "'cifar10'", "fashion-mnist"]),
    ],
)
def test_bad_options_are_named(argv, words):
    result = run_demo(*argv, timeout=120)
    assert result.returncode == 2
    for w in words:
        assert w in result.stderr


def test_the_dlkit_command_registers_demo():
    from dlkit import cli, demo

    args = cli.build_parser().parse_args(["demo", "--steps", "7", "--seed", "1"])
    assert args.func is demo.run
    assert (args.dataset, args.steps, args.seed) == ("fashion-mnist", 7, 1)
