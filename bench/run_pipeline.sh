#!/usr/bin/env bash
# The whole pipeline (decode -> key -> window -> engines -> sink) from an
# in-memory buffer of real NASA-HTTP events, one CPU, engines added one by one.
# Env: BUILD (default build), TC_DATA_DIR, PIPE_EVENTS (default 1000000),
# PIPE_REPEATS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/pipeline
[ -x "$bin" ] || make --no-print-directory "$bin" >/dev/null
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
"${pin[@]}" "$bin" "${TC_DATA_DIR:-data}/weblog/nasa_19950801.tsv" "${PIPE_EVENTS:-1000000}" \
  "${PIPE_REPEATS:-3}"
