#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu, as root).
# It installs Python, dlkit and the grader from /autograder/source, and fetches
# Fashion-MNIST for the hidden checks of a3 (the image keeps it; grading runs offline).
set -euo pipefail
SOURCE="${AUTOGRADER_SOURCE:-/autograder/source}"
VENV="${AUTOGRADER_VENV:-/autograder/venv}"
if command -v apt-get >/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip util-linux
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install "$SOURCE"
"$VENV/bin/dlkit" data fetch fashion-mnist
