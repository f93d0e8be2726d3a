#!/usr/bin/env bash
# NAB count series through `tidecast convert --from nab` and tidecastd with
# 1-hour buckets: every hour's `bytes` (the sum of the values, the peers'
# protocol for count series) and `requests` (rows) equal awk's sums of the
# CSV, for every hour from the first to the last (empty hours 0).
set -euo pipefail
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in nyc_taxi elb_request_count_8c0756; do
  csv=$DATA/nab/$s.csv
  "$BIN/tidecast" convert --from nab --format protobuf --site "$s" "$csv" "$tmp/$s.pb" 2>/dev/null
  "$BIN/tidecastd" --set input.source="$tmp/$s.pb" --set input.format=protobuf \
    --set window.bucket=1h --set window.lateness=0s > "$tmp/$s.out" 2> "$tmp/$s.log"
  # Hours from the CSV (UTC timestamps; mktime under TZ=UTC).
  TZ=UTC awk -F, 'NR > 1 { split($1, d, /[- :]/); t = mktime(d[1] " " d[2] " " d[3] " " d[4] " 0 0")
                           h = t * 1000; v[h] += int($2 + 0.5); n[h]++; if (!f || h < f) f = h; if (h > l) l = h }
                  END { for (h = f; h <= l; h += 3600000) printf "%d %d %d\n", h, n[h], v[h] }' "$csv" > "$tmp/$s.exp"
  jq -r '"\(.bucket_start_ms) \(.requests) \(.bytes)"' "$tmp/$s.out" > "$tmp/$s.got"
  if ! diff "$tmp/$s.exp" "$tmp/$s.got" > "$tmp/diff"; then
    echo "FAIL $s: hourly sums differ (expected < > got)"; head "$tmp/diff"; exit 1
  fi
  echo "ok $s: $(wc -l < "$tmp/$s.got") hours equal"
done
