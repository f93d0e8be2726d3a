#!/usr/bin/env bash
# --check-config accepts the shipped example and rejects bad files with an
# error naming file:line: section.key and what was expected (exit 1).
set -euo pipefail
BIN=${BIN:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN/tidecastd" --config conf/tidecast.conf --check-config
check_bad() { # file-content expected-stderr
  printf '%s' "$1" > "$tmp/tidecast.conf"
  set +e
  err=$("$BIN/tidecastd" --config "$tmp/tidecast.conf" --check-config 2>&1 >/dev/null)
  rc=$?
  set -e
  [ $rc -eq 1 ] || { echo "exit $rc, want 1 for: $1"; exit 1; }
  [ "$err" = "tidecastd: $tmp/tidecast.conf:$2" ] || { echo "got:  $err"; echo "want: tidecastd: $tmp/tidecast.conf:$2"; exit 1; }
}
check_bad $'[input]\nformat = ndjson\n\n[window]\nbucket = abc\n' \
  "5: window.bucket: expected a duration like 60s, 5m, 1h, got 'abc'"
check_bad $'[window]\nlateness = 10s\nbukket = 1m\n' \
  "3: window.bukket: unknown key; expected one of bucket, lateness, ring, metrics"
check_bad $'[keying]\nmode = url\n' "2: keying.mode: expected one of site, site_path, got 'url'"
check_bad $'[limits]\nmax_series = 0\n' \
  "2: limits.max_series: expected an integer from 1 to 100000000, got '0'"
# Keys that do not fit together: the line of the key to change (or of the one requiring it).
check_bad $'[forecast]\nhorizon = 10\n[autoscale]\nenabled = true\n' \
  "4: autoscale.capacity: expected > 0 with autoscale.enabled, got 0"
check_bad $'[autoscale]\nenabled = true\ncapacity = 5\nmin_replicas = 4\nmax_replicas = 2\n[forecast]\nhorizon = 3\n' \
  "5: autoscale.max_replicas: expected at least autoscale.min_replicas"
check_bad $'[churn]\nenabled = yes\nsecret = short\n' \
  "3: churn.secret: expected 16 to 64 characters with churn.enabled, got 5"
# The reference printed by the daemon is the one in README.md.
"$BIN/tidecastd" --config-reference > "$tmp/ref.md"
while IFS= read -r line; do
  [ -z "$line" ] && continue
  grep -qxF -- "$line" README.md ||
    { echo "README.md configuration reference is out of date (paste \`tidecastd --config-reference\`): missing"; echo "$line"; exit 1; }
done < "$tmp/ref.md"
echo ok
