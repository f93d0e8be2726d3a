# Shared helpers of the integration scripts (sourced, not run).
# Needs TC_KAFKA_BROKERS, TC_REDIS_HOST, TC_REDIS_PORT (tests/servers.sh env).
: "${TC_KAFKA_BROKERS:?run through tests/run.sh or: eval \"\$(bash tests/servers.sh env)\"}"
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
RUN_ID=${RUN_ID:-$$$(date +%s%N | tail -c 6)}
rcli() { redis-cli -h "$TC_REDIS_HOST" -p "$TC_REDIS_PORT" --no-raw "$@"; }
rraw() { redis-cli -h "$TC_REDIS_HOST" -p "$TC_REDIS_PORT" --raw "$@"; }

# The pipeline settings every run of a test shares (the reference run too).
PIPE_SETS=(--set window.bucket=60s --set window.lateness=5s --set log.level=warn
           --set forecast.horizon=15 --set forecast.season=60
           --set forecast.models=snaive,sarima --set arima.fit_after=120
           --set autoscale.enabled=true --set autoscale.capacity=20 --set autoscale.max_replicas=20)

# tidecastd in Kafka mode, run as `kafka_daemon ... &` (it execs, so $! is the daemon):
# kafka_daemon GROUP PREFIX OUT_TOPIC_SUFFIX IN_TOPIC [extra --set ...]
kafka_daemon() {
  local group=$1 prefix=$2 suffix=$3 topic=$4; shift 4
  exec "$BIN/tidecastd" "${PIPE_SETS[@]}" --set input.source=kafka --set input.format=protobuf \
    --set kafka.bootstrap.servers="$TC_KAFKA_BROKERS" --set stream.group="$group" \
    --set stream.traffic="$topic" --set stream.behavior= --set stream.annotations= \
    --set stream.forecasts="forecasts.$suffix" --set stream.autoscale="autoscale.$suffix" \
    --set stream.dead_letter="dead.$suffix" --set output.buckets= \
    --set redis.enabled=true --set redis.host="$TC_REDIS_HOST" --set redis.port="$TC_REDIS_PORT" \
    --set redis.prefix="$prefix" "$@"
}

# Waits until the Redis forecast hash KEY has origin_ms >= WANT and it has
# not changed for 3 s (or timeout s); prints the final origin_ms.
wait_origin() {
  local key=$1 want=$2 limit=${3:-120} t0=$SECONDS have prev= since=$SECONDS
  while :; do
    have=$(rraw HGET "$key" origin_ms)
    [ "$have" != "$prev" ] && { prev=$have; since=$SECONDS; }
    [ -n "$have" ] && [ "$have" -ge "$want" ] && [ $((SECONDS - since)) -ge 3 ] && break
    [ $((SECONDS - t0)) -lt "$limit" ] || { echo "timeout waiting for $key origin_ms>=$want (have $have)" >&2; return 1; }
    sleep 0.5
  done
  echo "$have"
}
