#!/usr/bin/env bash
# LSTM training throughput: tidecast (bench/lstm.c) and a Keras LSTM of the
# same size doing the same online updates (bench/peer_keras.py), one after the
# other in the same run; then the ratio per batch size.
# Env: BUILD (default build), TC_BENCH_SECS per case (default 2), TC_BENCH_MAXB.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${TC_BENCH_SECS:-2}
MAXB=${TC_BENCH_MAXB:-16384}
tc_out=$(mktemp); k_out=$(mktemp); k1_out=$(mktemp)
trap 'rm -f "$tc_out" "$k_out" "$k1_out"' EXIT
"$BUILD/bench/lstm" "$SECS" "$MAXB" | tee "$tc_out"
if PY=$(bash scripts/peers-venv.sh tensorflow-cpu 2>/dev/null); then
  export TF_CPP_MIN_LOG_LEVEL=3
  "$PY" bench/peer_keras.py "$SECS" "$MAXB" 0 2>/dev/null | tee "$k_out"
  "$PY" bench/peer_keras.py "$SECS" "$MAXB" 1 2>/dev/null | tee "$k1_out"
  echo "# throughput ratio tidecast (1 thread) / Keras (default threads) / Keras (1 thread)"
  awk 'FNR == 1 { f++ } /^ *[0-9]/ { if (f == 1) tc[$1] = $2; else if (f == 2) k[$1] = $2; else if ($1 in tc) printf "%7d series: %6.1fx %6.1fx\n", $1, tc[$1] / k[$1], tc[$1] / $2 }' \
    "$tc_out" "$k_out" "$k1_out"
else
  echo "(Keras peer skipped: no virtualenv with tensorflow-cpu)"
fi
