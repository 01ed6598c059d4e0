#!/usr/bin/env bash
# Build the documentation site into docs/_build/html, warnings as errors.
#
#   bash scripts/build_docs.sh [PYTHON]       # needs the [docs] extra: pip install -e ".[docs]"
#
# The notebooks are executed in FAST mode (MAGWIDGETS_FAST=1, set by docs/conf.py) and their outputs cached in
# docs/_build/jupyter_cache, so a rebuild runs only the notebooks that changed. MAGWIDGETS_DOCS_EXECUTE=off renders
# them without outputs (a quick check of the text); BUILD_DOCS_SECONDS bounds the build (default 3600).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${1:-python3}
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"     # document this checkout
export XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout "${BUILD_DOCS_SECONDS:-3600}" "$PYTHON" -m sphinx -E -W --keep-going -b html docs docs/_build/html
# The maths must render without internet: no page may load MathJax from elsewhere.
if grep -rlE '<script[^>]+src="https?://[^"]*mathjax' docs/_build/html --include=*.html; then
    echo "the pages above load MathJax from the internet" >&2
    exit 1
fi
echo "documentation: $ROOT/docs/_build/html/index.html"
