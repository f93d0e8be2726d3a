#!/usr/bin/env bash
# tidecastd with http.listen serves /healthz, /readyz, /metrics and
# /v1/series while it reads events from a FIFO; the metrics count the
# events written and /v1/series lists the two sites.
set -euo pipefail
BIN=${BIN:-build}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exec 3>&- 2>/dev/null; rm -rf "$tmp"' EXIT
mkfifo "$tmp/in"
"$BIN/tidecastd" --set input.source="$tmp/in" --set window.lateness=0s \
  --set http.listen=127.0.0.1:0 > "$tmp/out" 2> "$tmp/log" &
pid=$!
exec 3> "$tmp/in"
t0=1700000040000 # a minute boundary
for i in 0 1; do
  for s in alpha beta; do
    printf '{"kind":"traffic","event_time_ms":%d,"site":"%s","status":200,"bytes":1}\n' $((t0 + i * 60000 + 1000)) "$s" >&3
  done
done
# Wait (at most 30 s) until minute 0 of both sites is out.
for _ in $(seq 300); do
  [ "$(grep -c . "$tmp/out" 2>/dev/null || true)" -ge 2 ] && break
  sleep 0.1
done
port=$(sed -n 's/.*HTTP endpoints listening.* port=\([0-9]*\).*/\1/p' "$tmp/log")
[ -n "$port" ] || { echo "no HTTP port in the log"; cat "$tmp/log"; exit 1; }
base="http://127.0.0.1:$port"
[ "$(curl -s "$base/healthz")" = "ok" ] || { echo "healthz"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ] || { echo "readyz"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/nowhere")" = 404 ] || { echo "404"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/healthz")" = 405 ] || { echo "405"; exit 1; }
curl -s "$base/metrics" > "$tmp/metrics"
grep -qx '# TYPE tidecast_events_total counter' "$tmp/metrics" || { echo "no TYPE line"; cat "$tmp/metrics"; exit 1; }
grep -qx 'tidecast_events_total 4' "$tmp/metrics" || { echo "events != 4"; cat "$tmp/metrics"; exit 1; }
grep -qx 'tidecast_series 2' "$tmp/metrics" || { echo "series != 2"; cat "$tmp/metrics"; exit 1; }
# Every line is a comment or "name[{labels}] value".
if grep -v '^# \(HELP\|TYPE\) ' "$tmp/metrics" | grep -vqE '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEaNInf]+$'; then
  echo "bad exposition line"; cat "$tmp/metrics"; exit 1
fi
curl -s "$base/v1/series" | jq -e '.series | sort == ["alpha","beta"]' > /dev/null ||
  { echo "series"; curl -s "$base/v1/series"; exit 1; }
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
pid=
[ $rc -eq 0 ] || { echo "exit $rc"; cat "$tmp/log"; exit 1; }
echo ok
