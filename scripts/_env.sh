# Create the locked environment in .venv (used by scripts/test.sh and scripts/reproduce.sh).
# Needs only python3 (3.11+) with venv; uv itself is installed into .tools from PyPI.
set -eu
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never
if [ ! -x .tools/bin/uv ]; then
    python3 -m venv .tools
    .tools/bin/pip install --quiet uv==0.13.8
fi
.tools/bin/uv sync --locked --python "$(command -v python3)" "$@"
