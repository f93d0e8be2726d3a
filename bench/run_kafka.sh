#!/usr/bin/env bash
# End-to-end throughput through a real local Apache Kafka broker (KRaft, one
# node, started by tests/servers.sh on free ports) and real Redis.
#
#   1. produce a large real-data-shaped topic: the NASA day (30,969 real
#      requests) replayed TC_BENCH_REPEAT times (default 100, 3.1 M events),
#      each repetition one day later, spread over 16 sites so that the four
#      partitions all carry series;
#   2. tidecastd consumes it in Kafka mode with the forecasting engines on
#      (seasonal naive, SARIMA, ensemble; autoscale), outputs to Kafka and
#      Redis, checkpoints every 10 s; its once-a-second progress lines give the
#      consumer lag over time; events/s = events / (time from the first
#      consumed message to the last);
#   3. the same events from a file through the same daemon (in-memory source)
#      for comparison;
#   4. where the time goes: perf record of the Kafka run when perf works.
# Timing on a shared 2-core machine is noisy: compare ratios within one run.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
REPEAT=${TC_BENCH_REPEAT:-100}
export TC_SERVERS_DIR=${TC_SERVERS_DIR:-$PWD/build/bench-servers}
work=$(mktemp -d)
pid=
started=0
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
  if [ "$started" = 1 ]; then bash tests/servers.sh down; fi
  rm -rf "$work"
}
trap cleanup EXIT
if ! bash tests/servers.sh status >/dev/null 2>&1; then
  bash tests/servers.sh up
  started=1
fi
eval "$(bash tests/servers.sh env)"
run=$$
topic=bench.traffic.$run

"$BIN/tidecast" convert --from nasa --format protobuf "$DATA/weblog/nasa_19950801.tsv" "$work/nasa.pb" 2>/dev/null
echo "-- produce: NASA day x $REPEAT over 16 sites to $topic"
"$BIN/tidecast" produce -b "$TC_KAFKA_BROKERS" --traffic "$topic" --repeat "$REPEAT" --sites 16 \
  -X linger.ms=20 -X batch.num.messages=10000 "$work/nasa.pb" 2>&1 | tail -n 1
total=$((30969 * REPEAT))

SETS=(--set window.bucket=60s --set window.lateness=5s --set forecast.horizon=15
      --set forecast.season=60 --set forecast.models=snaive,sarima --set arima.fit_after=120
      --set autoscale.enabled=true --set autoscale.capacity=20 --set autoscale.max_replicas=50
      --set output.buckets= --set log.level=debug)

kafka_run() { # label, extra args...
  local label=$1; shift
  "$@" "$BIN/tidecastd" "${SETS[@]}" ${EXTRA:-} --set input.source=kafka --set input.format=protobuf \
    --set kafka.bootstrap.servers="$TC_KAFKA_BROKERS" --set stream.group="bench.$label.$run" \
    --set stream.traffic="$topic" --set stream.behavior= --set stream.annotations= \
    --set stream.forecasts="bench.fc.$run" --set stream.autoscale="bench.as.$run" \
    --set redis.enabled=true --set redis.port="$TC_REDIS_PORT" --set redis.prefix="bench$run:" \
    2>"$work/$label.log" &
  pid=$!
  local t0=$SECONDS
  while :; do
    local m; m=$(grep 'stream progress' "$work/$label.log" | tail -n 1 | sed -n 's/.*messages=\([0-9]*\).*/\1/p') || true
    [ "${m:-0}" -ge "$total" ] && break
    [ $((SECONDS - t0)) -lt 600 ] || { echo "timeout: ${m:-0} of $total consumed"; break; }
    sleep 0.5
  done
  kill -INT "$pid"; wait "$pid" 2>/dev/null || true; pid=
  echo "-- consumer lag over time ($label): seconds since the first message, consumed, events/s, lag"
  grep 'stream progress' "$work/$label.log" |
    sed -n 's/.*messages=\([0-9]*\) rate=\([0-9]*\) lag=\([-0-9]*\).*/\1 \2 \3/p' |
    awk -v total="$total" '$1 > 0 && !done { t += 0.25; printf "   %5.2f s %9d %9d %9d\n", t, $1, $2, $3; if ($1 >= total) done = 1 }' \
    > "$work/$label.lag"
  awk 'NR % 4 == 0' "$work/$label.lag" | head -n 60
  tail -n 1 "$work/$label.lag"
  # From the first 250 ms interval with messages to the one that reached the total.
  awk -v total="$total" -v label="$label" '{ t = $1; n = $3 } END {
       printf "== Kafka end to end (%s): %d events in %.2f s: %.0f events/s (+-0.25 s)\n", label, n, t, n / t }' "$work/$label.lag"
}

kafka_run kafka env
echo "-- the same with forecasting off (decode, windows, checkpoints only)"
EXTRA="--set forecast.horizon=0 --set autoscale.enabled=false" kafka_run windows env

echo "-- in-memory source: the same events from a file, same daemon and settings"
"$BIN/tidecast" produce --repeat "$REPEAT" --sites 16 -o "$work/big.pb" "$work/nasa.pb" 2>/dev/null
t0=$(date +%s.%N)
"$BIN/tidecastd" "${SETS[@]}" --set log.level=warn --set input.source="$work/big.pb" --set input.format=protobuf
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v n="$total" 'BEGIN { printf "== in-memory source: %d events in %.2f s: %.0f events/s\n", n, b - a, n / (b - a) }'
t0=$(date +%s.%N)
"$BIN/tidecastd" "${SETS[@]}" --set log.level=warn --set forecast.horizon=0 --set autoscale.enabled=false \
  --set input.source="$work/big.pb" --set input.format=protobuf
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" -v n="$total" 'BEGIN { printf "== in-memory source, forecasting off: %d events in %.2f s: %.0f events/s\n", n, b - a, n / (b - a) }'

if perf record -q -o /dev/null true 2>/dev/null; then
  echo "-- where the time goes (perf, Kafka run, loop thread and librdkafka threads)"
  kafka_run perf perf record -q -g -o "$work/perf.data" -- >/dev/null
  perf report -i "$work/perf.data" --no-children --sort dso,symbol -g none --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' | grep '%' | head -n 30
else
  echo "-- perf not usable here: no profile"
fi
