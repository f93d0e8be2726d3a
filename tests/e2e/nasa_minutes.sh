#!/usr/bin/env bash
# Replays the NASA day (data/weblog/nasa_19950801.tsv) through tidecastd with
# 1-minute buckets keyed by site, in both input formats, and compares every
# minute's request count and byte sum with counts computed here by awk from
# the TSV itself; unique users (HyperLogLog) must be within 3 standard errors
# (p = 12: 1.04/sqrt(4096) = 1.6%) of the exact distinct hosts, or 1 for tiny counts.
set -euo pipefail
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
tsv=$DATA/weblog/nasa_19950801.tsv
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The allowed lateness must cover the trace's disorder: the largest step back
# in time of any request behind the latest one before it.
disorder=$(awk -F'\t' 'NR > 1 { if ($3 < max) { d = max - $3; if (d > md) md = d } if ($3 > max) max = $3 }
                        END { print md + 0 }' "$tsv")
lateness=$((disorder + 1))s
echo "max disorder ${disorder}s, lateness $lateness"

# Expected per minute, from the TSV: requests, bytes, distinct hosts.
awk -F'\t' 'NR > 1 { m = int($3 / 60) * 60000; n[m]++; b[m] += $7; if (!seen[m, $1]++) u[m]++
                     if (first == "" || m < first) first = m; if (m > last) last = m }
            END { for (m = first; m <= last; m += 60000) printf "%d %d %d %d\n", m, n[m], b[m], u[m] }' \
  "$tsv" > "$tmp/expected"
echo "expected minutes: $(wc -l < "$tmp/expected"), requests: $(awk '{ s += $2 } END { print s }' "$tmp/expected")"

for fmt in ndjson protobuf; do
  "$BIN/tidecast" convert --from nasa --format $fmt "$tsv" "$tmp/nasa.$fmt"
  "$BIN/tidecastd" --set input.source="$tmp/nasa.$fmt" --set input.format=$fmt \
    --set window.bucket=60s --set window.lateness=$lateness --set keying.mode=site \
    > "$tmp/out.$fmt" 2> "$tmp/log.$fmt"
  grep -q 'msg="input done"' "$tmp/log.$fmt"
  grep -q 'late=0 ' "$tmp/log.$fmt"
  # Every line is one series (nasa) and one minute.
  jq -r '[.series, .bucket_start_ms, .requests, .bytes, .unique_users, .bucket_ms] | @tsv' \
    "$tmp/out.$fmt" > "$tmp/got.$fmt"
  awk -F'\t' '$1 != "nasa" || $6 != 60000 { print "bad line: " $0; exit 1 }' "$tmp/got.$fmt"
  cut -f2,3,4 "$tmp/got.$fmt" | tr '\t' ' ' > "$tmp/got_nb.$fmt"
  cut -d' ' -f1-3 "$tmp/expected" > "$tmp/exp_nb"
  if ! diff "$tmp/exp_nb" "$tmp/got_nb.$fmt" > "$tmp/diff"; then
    echo "FAIL ($fmt): per-minute requests/bytes differ (expected < > got):"; head -20 "$tmp/diff"; exit 1
  fi
  paste -d' ' "$tmp/expected" <(cut -f5 "$tmp/got.$fmt") |
    awk '{ tol = 3 * 0.01625 * $4; if (tol < 1) tol = 1; d = $5 - $4; if (d < 0) d = -d
           if (d > tol) { print "FAIL unique users minute " $1 ": exact " $4 " estimate " $5; bad = 1 } }
         END { exit bad }'
  echo "ok $fmt: $(wc -l < "$tmp/got.$fmt") minutes equal"
done
cmp "$tmp/out.ndjson" "$tmp/out.protobuf"
echo "ndjson and protobuf outputs identical"
