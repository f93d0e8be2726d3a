#!/usr/bin/env bash
# Core per-event path (decode -> key -> window) on >= 1e6 real NASA-HTTP
# events from memory, protobuf and JSON separately, pinned to one CPU.
# Env: BUILD (default build), TC_DATA_DIR, CORE_EVENTS (default 1000000),
# CORE_REPEATS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/decode_window
[ -x "$bin" ] || make --no-print-directory "$bin" >/dev/null
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
"${pin[@]}" "$bin" "${TC_DATA_DIR:-data}/weblog/nasa_19950801.tsv" "${CORE_EVENTS:-1000000}" \
  "${CORE_REPEATS:-5}"
