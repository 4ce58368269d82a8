#!/usr/bin/env bash
# The whole test suite: sets up .venv if needed, lints, then runs every test.
# Against a real replica set too: MONGODB_URI='mongodb://...' bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -n 2 "$@"
