#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu): it
# installs Python, dlkit and the grader, fetches Fashion-MNIST and compiles dlkit's kernels
# into the image (so that no submission pays for them), and leaves what the grader keeps
# (the bundle, hidden checks, points, data, compiled kernels) readable by root only.
#
#   AUTOGRADER_ROOT   the folder standing for /autograder (default: /autograder)
#   DLKIT_SKIP_APT=1  skip apt-get (a machine that has python3-venv already)
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
if [ "${DLKIT_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip
fi
# The venv must stay readable by every user: the sandboxed workers run its Python.
python3 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install "$SOURCE"
cd "$ROOT"  # not the source folder: Python must import the installed dlkit and grader
mkdir -p -m 700 "$ROOT/data"
DLKIT_DATA_DIR="$ROOT/data" "$VENV/bin/dlkit" data fetch fashion-mnist
DLKIT_GRADE_KERNEL_CACHE="$ROOT/kernels" "$VENV/bin/python" -c \
    'import sys; from grader.sandbox import kernel_cache; sys.exit(kernel_cache.prepare() is None)'
GRADER="$("$VENV/bin/python" -c 'import grader, os; print(os.path.dirname(grader.__file__))')"
chmod -R go-rwx "$SOURCE" "$ROOT/data" "$ROOT/kernels" "$GRADER/checks" "$GRADER/points.toml"
