#!/usr/bin/env bash
# `make bench`: runs every bench/run_*.sh in name order. Benchmarks measure
# speed and memory; they never fail a build. TC_BENCH_FILTER=substring selects.
set -uo pipefail
cd "$(dirname "$0")/.."
export TC_DATA_DIR=${TC_DATA_DIR:-$PWD/data}
for s in bench/run_*.sh; do
  [ -e "$s" ] || continue
  [[ -z ${TC_BENCH_FILTER:-} || $s == *"$TC_BENCH_FILTER"* ]] || continue
  echo "=== $(basename "$s" .sh)"
  bash "$s" || echo "(benchmark $s exited with $?)"
done
