#!/usr/bin/env bash
# `tidecast churn-eval` on the CDNOW sample prints the figures of PEERS.md's
# churn protocol: parameters, log-likelihood, holdout expectation, AUC/Brier.
set -euo pipefail
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
out=$("$BIN/tidecast" churn-eval --timing-reps 1 "$DATA/cdnow/CDNOW_sample.txt")
echo "$out"
grep -q "2357 / 1411 / 1673" <<<"$out"
grep -q "r 0.2425[89]  alpha 4.413[56]" <<<"$out"
grep -q "log-likelihood -9582.429" <<<"$out"
grep -q "1653.4 / 1882" <<<"$out"
grep -Eq "risk tau=39w  \[BG/NBD\] +AUC 0.75[2-9][0-9]  Brier 0.16" <<<"$out"
grep -q "supervised layer" <<<"$out"
# unreadable and malformed input fail cleanly
if "$BIN/tidecast" churn-eval /nonexistent 2>/dev/null; then exit 1; fi
tmp=$(mktemp)
printf ' 00001 0001 19970101 1 10.0\n 00002 0001 1997XX01 1 5\n' >"$tmp"
if "$BIN/tidecast" churn-eval "$tmp" 2>/dev/null; then rm -f "$tmp"; exit 1; fi
rm -f "$tmp"
