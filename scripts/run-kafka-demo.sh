#!/usr/bin/env bash
# The Kafka part of `make run`, with no servers: tidecastd starts librdkafka's
# in-process mock cluster (stream.mock_brokers), `tidecast produce` replays the
# bundled real data into it at an accelerated rate (the NASA web-server day at
# 3,000 requests/s, i.e. about 9 minutes of log per second; the CDNOW purchase
# log), and the outputs are shown as they are published: per series (site and
# first path segment) the minute's actual request count and the ensemble's
# forecast for the next minute with its 80% interval; churn alerts as they
# fire. A second tidecastd, configured for daily buckets and churn, consumes
# the behavior topic from the first one's cluster. Ends by itself (or Ctrl-C).
#
# Against a real cluster and Redis instead: see README.md ("Kafka and Redis").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
RATE=${TC_DEMO_RATE:-3000}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

"$BIN/tidecast" convert --from nasa --format protobuf "$DATA/weblog/nasa_19950801.tsv" "$work/nasa.pb" 2>/dev/null
"$BIN/tidecast" convert --from cdnow "$DATA/cdnow/CDNOW_sample.txt" "$work/cdnow.ndjson" 2>/dev/null
touch "$work/forecasts" "$work/alerts"

echo "== Kafka demo: tidecastd on librdkafka's in-process mock cluster"
"$BIN/tidecastd" --config conf/tidecast.conf --set input.source=kafka --set input.format=protobuf \
  --set stream.mock_brokers=1 --set stream.behavior= --set stream.annotations= \
  --set keying.mode=site_path --set keying.path_depth=1 \
  --set window.bucket=60s --set window.lateness=5s --set forecast.horizon=15 \
  --set forecast.season=60 --set forecast.models=snaive,sarima --set arima.fit_after=120 \
  --set output.buckets= --set output.forecasts="$work/forecasts" --set log.level=info \
  2>"$work/d1.log" &
pids+=($!)
bs=
for _ in $(seq 1 100); do
  bs=$(sed -n 's/.*msg="mock cluster" bootstrap=\([^ ]*\).*/\1/p' "$work/d1.log" | head -n 1)
  [ -n "$bs" ] && break
  sleep 0.1
done
[ -n "$bs" ] || { echo "tidecastd did not start:"; cat "$work/d1.log"; exit 1; }
echo "   mock cluster at $bs; a second tidecastd scores churn from the behavior topic"
"$BIN/tidecastd" --config conf/tidecast.conf --set input.source=kafka --set input.format=ndjson \
  --set kafka.bootstrap.servers="$bs" --set stream.group=tidecast-churn \
  --set stream.traffic= --set stream.behavior=behavior --set stream.annotations= \
  --set stream.forecasts= --set stream.autoscale= --set stream.churn_alerts=churn.alerts \
  --set window.bucket=1d --set window.lateness=0s --set output.buckets= --set log.level=warn \
  --set churn.enabled=true --set churn.secret=demo-secret-not-for-production \
  --set churn.transaction=purchase --set churn.merge_same_day=true --set churn.alert_threshold=0.8 \
  --set churn.sweep_every=7d --set churn.refit_every=90d --set output.churn_alerts="$work/alerts" \
  2>"$work/d2.log" &
pids+=($!)

# Live views of the two output files.
printf '\n%-8s %-20s %7s   %s\n' "minute" "series" "actual" "next-minute forecast [80% interval]"
tail --pid="${pids[0]}" -n +1 -f "$work/forecasts" 2>/dev/null | jq --unbuffered -r '
  select(.model == "ensemble" and (.series | test("^nasa/(images|shuttle|history)$"))
         and (.origin_ms / 60000) % 60 == 0) |
  "\(.origin[11:16])    \(.series | .[0:20] + " " * (20 - (.[0:20] | length))) \(.actual | tostring | " " * (7 - length) + .)   \(.steps[0].mean * 10 | round / 10) [\(.steps[0].lo80 * 10 | round / 10), \(.steps[0].hi80 * 10 | round / 10)]"' &
pids+=($!)
tail --pid="${pids[1]}" -n +1 -f "$work/alerts" 2>/dev/null | jq --unbuffered -r \
  '"  churn alert  \(.as_of[0:10])  user \(.user[0:12])  risk \(.risk * 1000 | round / 1000)"' |
  awk 'NR <= 12 || NR % 100 == 0 { print; fflush() }' &
pids+=($!)

sleep 4 # the mock cluster holds the first group join ~3 s
"$BIN/tidecast" produce -b "$bs" --rate "$RATE" "$work/nasa.pb" 2>"$work/p1.log"
"$BIN/tidecast" produce -b "$bs" -f ndjson --json --rate 20000 "$work/cdnow.ndjson" 2>"$work/p2.log"

# Let the outputs settle, then stop both daemons (they checkpoint and exit).
prev=-1
for _ in $(seq 1 60); do
  n=$(( $(wc -l < "$work/forecasts") + $(wc -l < "$work/alerts") ))
  [ "$n" = "$prev" ] && break
  prev=$n
  sleep 1
done
kill -TERM "${pids[1]}" 2>/dev/null || true
wait "${pids[1]}" 2>/dev/null || true
kill -TERM "${pids[0]}" 2>/dev/null || true
wait "${pids[0]}" 2>/dev/null || true
sleep 0.5
echo
echo "kafka demo: $(sed -n 's/.*: \([0-9]*\) events.*/\1/p' "$work/p1.log") requests and" \
     "$(sed -n 's/.*: \([0-9]*\) events.*/\1/p' "$work/p2.log") purchases through Kafka;" \
     "$(wc -l < "$work/forecasts") forecasts, $(wc -l < "$work/alerts") churn alerts"
