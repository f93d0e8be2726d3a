#!/usr/bin/env bash
# `tidecast eval-exog`: on nyc_taxi with injected, announced +40% two-day
# shifts, the LSTM given the annotation features forecasts the event hours
# better (one-step RMSE inside events) than the same LSTM without them.
set -euo pipefail
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
out=$("$BIN/tidecast" eval-exog "$DATA/nab/nyc_taxi.csv")
echo "$out"
without=$(awk '/^LSTM without annotations/ { print $7 }' <<<"$out")
with=$(awk '/^LSTM with annotations/ { print $7 }' <<<"$out")
[ -n "$with" ] && [ -n "$without" ]
awk -v a="$with" -v b="$without" 'BEGIN { exit !(a < b) }'
