#!/bin/sh
# Set up the locked environment and run the main job (reproduce the case studies into results/).
set -eu
cd "$(dirname "$0")/.."
sh scripts/_env.sh
.venv/bin/noetherlab reproduce --out results "$@"
