#!/usr/bin/env bash
# Build the wheel, install it in a fresh virtual environment, serve `magwidgets dashboard` from an empty temporary
# folder, and check in Chromium that the page renders and that Run advances the design; then stop the server by its
# PID and check that it left no process behind.
#
#   bash scripts/check_wheel.sh [PYTHON]        # PYTHON (default python3) builds the venv; it needs playwright
#
# Bounded in time (each step has a limit; CHECK_WHEEL_PAGE_SECONDS for the browser check, default 420), and it
# removes its temporary folders and stops its processes on every exit. Needs Debian's Chromium (/usr/bin/chromium or
# $CHROMIUM) and network access to PyPI (or a pip cache) for the wheel's dependencies.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${1:-python3}
PAGE_SECONDS=${CHECK_WHEEL_PAGE_SECONDS:-420}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/magwidgets-wheel.XXXXXX")
SERVER=""

stop_server() {  # SIGTERM by PID, then wait (with a deadline) for it and everything it started to be gone
  [ -n "$SERVER" ] || return 0
  kill -TERM "$SERVER" 2>/dev/null || true
  # Voila runs as its child and each kernel in a session of its own, so look for any process of the fresh venv
  local left="" deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    left=$(pgrep -f "$WORK/venv/" || true)
    kill -0 "$SERVER" 2>/dev/null || [ -n "$left" ] || break
    sleep 0.25
  done
  SERVER_WAS=$SERVER
  SERVER=""
  if [ -n "$left" ]; then
    echo "check_wheel: 30 s after SIGTERM to the dashboard (PID $SERVER_WAS), its processes are still running:" >&2
    ps -o pid,args -p "$(echo $left | tr ' ' ,)" >&2 || true
    for pid in $left; do kill -KILL "$pid" 2>/dev/null || true; done
    return 1
  fi
}
cleanup() {
  stop_server || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building the wheel (and the sdist it is built from) in $WORK"
"$PYTHON" -m venv "$WORK/venv"
VENV_PYTHON="$WORK/venv/bin/python"
timeout 300 "$VENV_PYTHON" -m pip install -q --upgrade pip build
timeout 600 "$VENV_PYTHON" -m build --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; exit 1; }
WHEEL=$(ls "$WORK"/dist/magwidgets-*.whl)
# The listing goes to a file: `unzip -l | grep -q` fails under pipefail whenever grep stops reading before unzip
# has written everything (unzip then dies of SIGPIPE).
unzip -l "$WHEEL" >"$WORK/wheel-files.txt"
grep -q "magwidgets/notebooks/dashboard.ipynb" "$WORK/wheel-files.txt" || { echo "check_wheel: the wheel lacks the dashboard notebook" >&2; exit 1; }
grep -q "magwidgets/share/jupyter/voila/templates/magwidgets/index.html.j2" "$WORK/wheel-files.txt" || { echo "check_wheel: the wheel lacks the dashboard's Voila template" >&2; exit 1; }

echo "== installing $(basename "$WHEEL") in a fresh venv"
timeout 900 "$VENV_PYTHON" -m pip install -q "$WHEEL"
"$WORK/venv/bin/magwidgets" --version

echo "== serving the dashboard from an empty folder"
mkdir "$WORK/empty"
PORT=$("$PYTHON" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
cd "$WORK/empty"
setsid "$WORK/venv/bin/magwidgets" dashboard --no-browser --port "$PORT" >"$WORK/dashboard.log" 2>&1 &
SERVER=$!
cd "$ROOT"
deadline=$((SECONDS + 180))
until "$PYTHON" -c "import socket, sys; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null; do
  if ! kill -0 "$SERVER" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
    echo "check_wheel: the dashboard did not listen on port $PORT within 180 s" >&2; tail -30 "$WORK/dashboard.log" >&2
    exit 1
  fi
  sleep 0.5
done

echo "== checking the page in Chromium (at most $PAGE_SECONDS s)"
if ! timeout $((PAGE_SECONDS + 60)) "$PYTHON" "$ROOT/scripts/check_dashboard.py" "http://127.0.0.1:$PORT/" \
    --timeout "$PAGE_SECONDS" ${CHECK_WHEEL_SCREENSHOT:+--screenshot "$CHECK_WHEEL_SCREENSHOT"}; then
  tail -30 "$WORK/dashboard.log" >&2
  exit 1
fi
[ -z "$(ls -A "$WORK/empty")" ] || { echo "check_wheel: the dashboard wrote into its working folder: $(ls -A "$WORK/empty")" >&2; exit 1; }

echo "== stopping the dashboard (PID $SERVER)"
stop_server
echo "check_wheel: OK"
