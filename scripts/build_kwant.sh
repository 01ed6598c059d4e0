#!/usr/bin/env bash
# Install Kwant 1.5.0, the transport code the comparison tests check magwidgets against.
#
# PyPI has Kwant 1.5.0 only as a source archive, and the C files generated in it predate NumPy 2, so they do not
# compile against it. This regenerates them with Cython >= 3 (Kwant's own `setup.py --cython`) and links Kwant to
# Debian's sequential MUMPS (libmumps-seq-dev), its fast sparse solver. Takes about 2 minutes on 2 cores.
#
# Usage: bash scripts/build_kwant.sh [PYTHON]       (default: python3 on PATH)
# The built wheel is kept in ${KWANT_WHEEL_CACHE:-~/.cache/magwidgets/kwant-wheel} and reused by later calls.
# Exit status: 0 when `import kwant` works afterwards, 1 otherwise (the build log's tail is printed).
set -euo pipefail
PY=${1:-python3}
CACHE=${KWANT_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/magwidgets/kwant-wheel}
if "$PY" -c "import kwant" 2>/dev/null; then echo "kwant already importable"; exit 0; fi
mkdir -p "$CACHE"
if [ ! -e /usr/lib/x86_64-linux-gnu/libzmumps_seq.so ] && [ ! -e /usr/lib/aarch64-linux-gnu/libzmumps_seq.so ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libmumps-seq-dev) >/dev/null 2>&1 \
      || echo "note: libmumps-seq-dev could not be installed; Kwant will fall back to SciPy's slower solver"
  else
    echo "note: install Debian's libmumps-seq-dev for Kwant's fast solver (needs root); building without it"
  fi
fi
wheel=$(ls "$CACHE"/kwant-1.5.0-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  "$PY" -m pip install -q "cython>=3" tinyarray setuptools wheel numpy scipy
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$PY" -m pip download -q --no-deps --no-binary :all: kwant==1.5.0 -d "$work"
  tar xzf "$work"/kwant-1.5.0.tar.gz -C "$work"
  (
    cd "$work"/kwant-1.5.0
    mumps_lib=$(ls /usr/lib/*-linux-gnu/libzmumps_seq.so 2>/dev/null | head -1 || true)
    if [ -n "$mumps_lib" ]; then
      printf "[mumps]\nlibraries = zmumps_seq mumps_common_seq pord_seq mpiseq_seq\ninclude_dirs = /usr/include/mumps_seq\n" \
        > build.conf
    fi
    "$PY" setup.py --cython build_ext -j2 bdist_wheel > ../build.log 2>&1 || { tail -40 ../build.log; exit 1; }
    cp dist/kwant-1.5.0-*.whl "$CACHE"/
  )
  wheel=$(ls "$CACHE"/kwant-1.5.0-*.whl | head -1)
fi
"$PY" -m pip install -q tinyarray "$wheel"
cd /
"$PY" -c "import kwant, kwant.solvers.default as d; print('kwant', kwant.__version__, 'solver:', type(d.smatrix.__self__).__module__)"
