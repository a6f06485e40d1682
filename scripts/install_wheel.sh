#!/usr/bin/env bash
# What ships, installed: build the project's wheel and install it, with exactly the dependency
# versions of uv.lock (hashes checked), into a new virtual environment. Nothing else of the
# checkout is installed. The Dockerfile runs this script and tests/test_wheel.py runs it too, so
# the image holds what the test proves.
# Usage: scripts/install_wheel.sh VENV_DIR [PYTHON]   (PYTHON: the interpreter, default python3)
set -euo pipefail
venv=$(realpath -m "$1")
python=${2:-python3}
cd "$(dirname "$0")/.."
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
uv build --quiet --wheel --out-dir "$dist"
uv export --quiet --frozen --no-dev --no-emit-project --no-header --output-file "$dist/requirements.txt"
uv venv --quiet --python "$python" "$venv"
uv pip install --quiet --python "$venv/bin/python" --require-hashes --requirement "$dist/requirements.txt"
uv pip install --quiet --python "$venv/bin/python" --no-deps "$dist"/fleettickets-*.whl
uv pip check --quiet --python "$venv/bin/python"  # the wheel's own requirements hold in the locked set
