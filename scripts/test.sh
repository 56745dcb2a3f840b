#!/bin/sh
# Set up the locked environment and run the whole test suite: lint, format check, types, the
# layer contracts (.importlinter: an upward import fails), the documentation site (strict: broken
# references fail), tests.
set -eu
cd "$(dirname "$0")/.."
sh scripts/_env.sh --group dev
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir .site
# --max-worker-restart 0: a worker that dies (a segfault) fails the run at once, naming its test;
# with --dist loadfile a replaced worker can deadlock the session (pytest-xdist issue 1378)
.venv/bin/pytest -n 2 --dist loadfile --max-worker-restart 0 "$@"
