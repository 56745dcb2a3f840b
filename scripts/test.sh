#!/bin/sh
# Set up the locked environment and run the whole test suite: lint, format check, types, tests.
set -eu
cd "$(dirname "$0")/.."
sh scripts/_env.sh --group dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest -n 2 --dist loadfile "$@"
