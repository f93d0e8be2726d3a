#!/usr/bin/env bash
# SIGTERM flushes the open buckets and exits 0, while the input (a FIFO) is
# still open: events of minutes 0-2 are written, minute 0 and 1 close by the
# watermark, then SIGTERM must also emit minute 2.
set -euo pipefail
BIN=${BIN:-build}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exec 3>&- 2>/dev/null; rm -rf "$tmp"' EXIT
mkfifo "$tmp/in"
"$BIN/tidecastd" --set input.source="$tmp/in" --set window.lateness=0s > "$tmp/out" 2> "$tmp/log" &
pid=$!
exec 3> "$tmp/in"
t0=1700000040000 # a minute boundary
for i in 0 1 2; do
  for j in 1 2 3; do
    printf '{"kind":"traffic","event_time_ms":%d,"site":"s","status":200,"bytes":1}\n' $((t0 + i * 60000 + j * 1000)) >&3
  done
done
# Wait (at most 30 s) until minute 1 is out: the daemon has read the events.
for _ in $(seq 300); do
  [ "$(grep -c . "$tmp/out" 2>/dev/null || true)" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c . "$tmp/out")" -eq 2 ] || { echo "expected 2 closed buckets before SIGTERM"; cat "$tmp/out" "$tmp/log"; exit 1; }
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
pid=
[ $rc -eq 0 ] || { echo "exit $rc"; cat "$tmp/log"; exit 1; }
grep -q 'msg=stopping\|msg="stopping"' "$tmp/log"
grep -q 'reason=SIGTERM' "$tmp/log"
jq -e -s 'length == 3 and ([.[].requests] == [3,3,3]) and .[2].bucket_start_ms == 1700000160000' "$tmp/out" >/dev/null ||
  { echo "after SIGTERM:"; cat "$tmp/out"; exit 1; }
echo ok
