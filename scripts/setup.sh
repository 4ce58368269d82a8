#!/usr/bin/env bash
# Creates .venv and installs the tap, the target, their shared package (all editable) and the
# development tools. Safe to run again; it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=25.1"
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -e ./mongodb-common -e ./tap-mongodb -e ./target-mongodb --group dev
