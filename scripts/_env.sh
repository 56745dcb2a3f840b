# Create the locked environment in .venv (used by scripts/test.sh and scripts/reproduce.sh).
# Needs only python3 (3.11+) with venv; uv itself is installed into .tools from PyPI.
set -eu
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never
if [ ! -x .tools/bin/uv ]; then
    python3 -m venv .tools
    .tools/bin/pip install --quiet uv==0.13.8
fi
# --compile-bytecode and compileall: every process reads .pyc files instead of compiling the Python
# sources of JAX, SciPy, ... again (a machine with PYTHONDONTWRITEBYTECODE=1 never caches them
# itself: 2.3 s of each fresh process, measured on `noetherlab path`)
# (the interpreter itself, not a shim such as pyenv's: uv rebuilds a venv whose interpreter path
# differs from the one asked for, which made every call start from an empty .venv)
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
.tools/bin/uv sync --locked --compile-bytecode --python "$PYTHON" "$@"
.venv/bin/python -m compileall -q src > /dev/null
