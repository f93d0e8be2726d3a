#!/usr/bin/env bash
# `tidecast eval` on a NAB series: the seasonal-naive row must reproduce the
# PEERS.md figures (which depend only on the bucketing, split and metrics),
# and the SARIMA rows must run and produce finite numbers.
set -euo pipefail
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
out=$(mktemp)
csv=$(mktemp)
trap 'rm -f "$out" "$csv"' EXIT
"$BIN/tidecast" eval "$DATA/nab/elb_request_count_8c0756.csv" --models snaive,sarima --csv "$csv" >"$out"
cat "$out"
grep -q '337 buckets of 3600s (sum), train 235, test 102' "$out"
# PEERS.md elb_request_count: snaive24 MASE h1 0.989, h1-24 0.955, sMAPE 39.3 / 39.4, RMSE 361.6 / 347
awk -F, '$2 == "snaive" {
  ok = ($6 > 0.9885 && $6 < 0.9895) && ($7 > 0.9545 && $7 < 0.9555) &&
       ($8 > 39.25 && $8 < 39.35) && ($10 > 361.55 && $10 < 361.65) && ($11 > 346.5 && $11 < 347.5);
  found = 1; exit(ok ? 0 : 1) } END { if (!found) exit 1 }' "$csv"
awk -F, '$2 == "sarima" { found = 1; exit(($16 == "ok" && $6 > 0 && $6 < 2 && $14 > 0.5) ? 0 : 1) }
  END { if (!found) exit 1 }' "$csv"
# the exchange series uses means with carried-forward empty hours (PEERS.md: snaive 1.210)
"$BIN/tidecast" eval "$DATA/nab/exchange-2_cpc_results.csv" --models snaive --csv "$csv" >/dev/null
awk -F, '$2 == "snaive" { found = 1; exit(($6 > 1.2095 && $6 < 1.2105) ? 0 : 1) } END { if (!found) exit 1 }' "$csv"
# usage errors exit 2
set +e
"$BIN/tidecast" eval >/dev/null 2>&1; [ $? -eq 2 ] || exit 1
"$BIN/tidecast" eval /nonexistent.csv >/dev/null 2>&1; [ $? -eq 1 ] || exit 1
exit 0
