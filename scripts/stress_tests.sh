#!/usr/bin/env bash
# Run the test suites on a fresh clone while another CPU-bound process keeps one core busy, as on a shared or
# freshly booted machine: the quick suite QUICK_RUNS times in a row (default 5), then the full suite (quick + slow)
# once. Prints each run's counts and time and anything it left under the temporary folder; exits non-zero if any
# run failed or left files behind.
#
# Usage: bash scripts/stress_tests.sh [REPOSITORY]     (default: this checkout's committed HEAD)
# Bounded: each quick run may take QUICK_LIMIT seconds (900), the full run FULL_LIMIT (3600).
set -uo pipefail
repository=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
quick_runs=${QUICK_RUNS:-5}
quick_limit=${QUICK_LIMIT:-900}
full_limit=${FULL_LIMIT:-3600}
temporary=${TMPDIR:-/tmp}
work=$(mktemp -d "$temporary/magwidgets-stress-XXXXXX")
busy_pid=
suite_pid=
cleanup() {
  [ -n "$suite_pid" ] && kill "$suite_pid" 2>/dev/null && wait "$suite_pid" 2>/dev/null
  [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

git clone -q "$repository" "$work/clone"
cd "$work/clone"
python3 -c "while True: pass" &   # one core busy for the whole time
busy_pid=$!

failures=0
run_suite() {  # NAME LIMIT PYTEST-ARGS...
  local name=$1 limit=$2
  shift 2
  local before after log="$work/$name.log" started elapsed status
  before=$(ls -A "$temporary" | grep -v "^$(basename "$work")$" | sort)
  started=$(date +%s)
  timeout "$limit" python3 -m pytest -rs -p no:cacheprovider "$@" > "$log" 2>&1 &
  suite_pid=$!
  wait "$suite_pid"
  status=$?
  suite_pid=
  elapsed=$(( $(date +%s) - started ))
  after=$(ls -A "$temporary" | grep -v "^$(basename "$work")$" | sort)
  local left
  left=$(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')
  printf '%-8s exit %-3s %5d s  %s\n' "$name" "$status" "$elapsed" "$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$log" | tail -1)"
  [ -n "$left" ] && echo "         left under $temporary: $left"
  if [ "$status" -ne 0 ] || [ -n "$left" ]; then
    failures=$((failures + 1))
    grep -E "^(FAILED|ERROR)" "$log" | head -20
  fi
}

echo "stress: $(git log -1 --format='%h %s' | cut -c1-80); $(nproc) cores, one kept busy; load $(cut -d' ' -f1-3 /proc/loadavg)"
for index in $(seq 1 "$quick_runs"); do
  run_suite "quick-$index" "$quick_limit"
done
run_suite "full" "$full_limit" -m "slow or not slow"
echo "stress: $failures run(s) failed or left files"
[ "$failures" -eq 0 ]
