#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu): it
# installs the Python the lock was made for, dlkit's wheel and exactly the packages of
# requirements.lock (nothing newer: an image rebuilt later grades like the first one, or
# this script fails naming what differs), fetches Fashion-MNIST and compiles dlkit's
# kernels into the image (so that no submission pays for them), and leaves what the grader
# keeps (the bundle, hidden checks, points, data, compiled kernels) readable by root only.
#
#   AUTOGRADER_ROOT   the folder standing for /autograder (default: /autograder)
#   DLKIT_SKIP_APT=1  skip apt-get (a machine that has python$DLKIT_PYTHON and its venv)
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$ROOT/venv"
# shellcheck source=/dev/null
. "$SOURCE/settings.env"
PYTHON="python$DLKIT_PYTHON"
if [ "${DLKIT_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends "$PYTHON" "$PYTHON-venv" python3-pip
fi
if ! command -v "$PYTHON" >/dev/null; then
    echo "setup.sh: $PYTHON is not available in this image: the bundle's requirements.lock" \
         "was made with Python $DLKIT_PYTHON. Build the bundle with the Python of the image" \
         "(python3 --version there), or pick a base image that has $PYTHON." >&2
    exit 1
fi
# The venv must stay readable by every user: the sandboxed workers run its Python.
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --disable-pip-version-check --no-deps --only-binary=:all: \
    -r "$SOURCE/requirements.lock" "$SOURCE"/dlkit-*.whl
cd "$ROOT"  # not the source folder: Python must import the installed dlkit and grader
"$VENV/bin/python" -m grader.platforms.lock check "$SOURCE/requirements.lock"
mkdir -p -m 700 "$ROOT/data"
DLKIT_DATA_DIR="$ROOT/data" "$VENV/bin/dlkit" data fetch fashion-mnist
DLKIT_GRADE_KERNEL_CACHE="$ROOT/kernels" "$VENV/bin/python" -c \
    'import sys; from grader.sandbox import kernel_cache; sys.exit(kernel_cache.prepare() is None)'
GRADER="$("$VENV/bin/python" -c 'import grader, os; print(os.path.dirname(grader.__file__))')"
chmod -R go-rwx "$SOURCE" "$ROOT/data" "$ROOT/kernels" "$GRADER/checks" "$GRADER/points.toml"
