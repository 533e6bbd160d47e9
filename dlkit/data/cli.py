"""``dlkit data fetch | info | import``: get, inspect and import the datasets."""

from __future__ import annotations

import argparse
import os
import sys

CHOICES = ("mnist", "fashion-mnist", "all")


def add_parser(sub) -> None:
    """Register ``dlkit data`` and its sub-commands on the ``sub`` subparsers object."""
    parser = sub.add_parser(
        "data",
        help="download, inspect or import MNIST / Fashion-MNIST",
        description=(
            "Datasets live in <data folder>/<dataset>/, the data folder being --root, else "
            "$DLKIT_DATA_DIR, else the user cache (~/.cache/dlkit on Linux). Downloads try "
            "$DLKIT_MIRROR/<dataset>/<file> first, then the public mirrors. Fashion-MNIST is "
            "also found in Debian's dataset-fashion-mnist package."
        ),
    )
    data_sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    fetch = data_sub.add_parser(
        "fetch",
        help="download (if needed), verify and parse a dataset",
        description="Make sure a verified copy of each file is present (downloading what is "
        "missing or corrupted) and build the parsed-array cache.",
    )
    fetch.add_argument("dataset", nargs="?", default="all", choices=CHOICES)
    fetch.add_argument("--root", help="data folder (default: $DLKIT_DATA_DIR or the user cache)")
    fetch.add_argument("--timeout", type=float, default=30.0,
                       help="seconds to wait for a mirror to answer (default 30)")
    fetch.set_defaults(func=_fetch)

    info = data_sub.add_parser(
        "info",
        help="where each dataset was found, sizes, verification, licenses",
        description="Report, without downloading, where each file was found, its size, "
        "whether its sha256 matches, the parsed cache, and each dataset's license.",
    )
    info.add_argument("--root", help="data folder (default: $DLKIT_DATA_DIR or the user cache)")
    info.set_defaults(func=_info)

    imp = data_sub.add_parser(
        "import",
        help="copy dataset files you already have into the data folder",
        description="Search DIR and its subfolders for the .gz files (e.g. a torchvision "
        "MNIST/raw folder), recognize each by its sha256 (MNIST and Fashion-MNIST share file "
        "names), and copy the recognized ones into <data folder>/<dataset>/.",
    )
    imp.add_argument("dir", help="folder holding e.g. train-images-idx3-ubyte.gz")
    imp.add_argument("--root", help="data folder (default: $DLKIT_DATA_DIR or the user cache)")
    imp.set_defaults(func=_import)


def _datasets(choice: str):
    from dlkit.data.registry import DATASETS

    return list(DATASETS.values()) if choice == "all" else [DATASETS[choice]]


def _fetch(args: argparse.Namespace) -> int:
    from dlkit.data import cache
    from dlkit.data.fetch import DownloadError
    from dlkit.data.locate import DatasetNotFoundError, dataset_dir, locate
    from dlkit.data.mnist import _parse

    status = 0
    for ds in _datasets(args.dataset):
        try:
            sources = locate(ds, args.root, timeout=args.timeout)  # verifies each file once
            arrays = cache.load(cache.cache_path(dataset_dir(ds, args.root), ds), ds)
            if arrays is None:
                arrays = _parse(ds, args.root, sources)
        except (DownloadError, DatasetNotFoundError, ValueError) as exc:
            print(f"{ds.name}: FAILED\n{exc}", file=sys.stderr)
            status = 1
            continue
        n_train, n_test = len(arrays["train_labels"]), len(arrays["test_labels"])
        print(f"{ds.name}: ok ({n_train} training, {n_test} test images; {ds.license})")
        for path in sources.values():
            print(f"  {path}")
    return status


def _info(args: argparse.Namespace) -> int:
    from dlkit.data import cache
    from dlkit.data.fetch import MIRROR_ENV, mirror_urls
    from dlkit.data.locate import DATA_DIR_ENV, data_dir, dataset_dir, find, search_dirs

    print(f"data folder: {data_dir(args.root)}"
          f"{'' if args.root or DATA_DIR_ENV not in os.environ else f' (${DATA_DIR_ENV})'}")
    print(f"{MIRROR_ENV}: {os.environ.get(MIRROR_ENV) or '(not set)'}")
    for ds in _datasets("all"):
        print(f"\n{ds.name}  license: {ds.license}  {ds.homepage}")
        folders = search_dirs(ds, args.root)
        complete = True
        for spec in ds.files.values():
            found = find(spec, folders)
            for problem in found.rejected:
                print(f"  CORRUPT  {problem}")
            if found.path is None:
                complete = False
                print(f"  missing  {spec.name}  (download from {mirror_urls(ds, spec)[0]})")
            else:
                size = found.path.stat().st_size
                print(f"  ok       {found.path}  {size:,} bytes  verified: {found.how}")
        path = cache.cache_path(dataset_dir(ds, args.root), ds)
        state = "fresh" if cache.load(path, ds) is not None else (
            "stale (rebuilt on next load)" if path.exists() else "absent")
        print(f"  parsed cache: {path} ({state})")
        if not complete:
            print(f"  -> run `dlkit data fetch {ds.name}` or `dlkit data import DIR`")
    return 0


def _import(args: argparse.Namespace) -> int:
    import shutil
    from pathlib import Path

    from dlkit.data.locate import dataset_dir
    from dlkit.data.registry import DATASETS
    from dlkit.data.verify import ChecksumError, verify

    src = Path(args.dir).expanduser()
    if not src.is_dir():
        print(f"import: expected a folder, got {src}", file=sys.stderr)
        return 2
    names = {spec.name for ds in DATASETS.values() for spec in ds.files.values()}
    candidates = sorted(p for p in src.rglob("*") if p.name in names and p.is_file())
    imported, unrecognized = 0, []
    for path in candidates:
        matches = []
        for ds in DATASETS.values():
            spec = next(s for s in ds.files.values() if s.name == path.name)
            try:
                matches.append((ds, verify(path, spec)))
            except ChecksumError:
                continue
        if not matches:
            unrecognized.append(path)
            continue
        for ds, how in matches:
            dest = dataset_dir(ds, args.root) / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
            try:
                shutil.copyfile(path, tmp)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
            imported += 1
            print(f"{ds.name}: {path} -> {dest} (verified: {how})")
    for path in unrecognized:
        print(f"not imported: {path} matches no known hash of {path.name} "
              "(corrupted, or a different file)", file=sys.stderr)
    if not candidates:
        print(f"import: no file named {', '.join(sorted(names))} under {src}", file=sys.stderr)
    return 0 if imported and not unrecognized else 1
