#!/usr/bin/env bash
# Real broker, real Redis: the NASA day (30,969 real requests) plus 7
# undecodable messages produced to a topic; tidecastd consumes it in Kafka
# mode. Checked against tidecastd run directly on the same events from the
# file (no Kafka): every forecast in the forecasts topic equals the one the
# file run issued for the same series, model and bucket; the Redis hash holds
# the latest of them; the 7 bad messages are in the dead-letter topic with
# their reason; a restart restores the checkpoint and processes nothing twice.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
tmp=$(mktemp -d)
pid=
trap '{ [ -n "$pid" ] && kill -9 $pid 2>/dev/null; } || true; rm -rf "$tmp"; true' EXIT
topic=traffic.pipe.$RUN_ID prefix="tc$RUN_ID:" group=g.pipe.$RUN_ID

"$BIN/tidecast" convert --from nasa --format protobuf "$DATA/weblog/nasa_19950801.tsv" "$tmp/nasa.pb" 2>/dev/null
"$BIN/tidecast" produce -b "$TC_KAFKA_BROKERS" --traffic "$topic" --bad 7 "$tmp/nasa.pb"

# Reference: the same events straight from the file.
"$BIN/tidecastd" "${PIPE_SETS[@]}" --set input.source="$tmp/nasa.pb" --set input.format=protobuf \
  --set output.buckets= --set output.forecasts="$tmp/ref.ndjson"
last=$(tail -n 1 "$tmp/ref.ndjson" | python3 -c 'import json,sys; print(json.load(sys.stdin)["origin_ms"])')

kafka_daemon "$group" "$prefix" "$RUN_ID" "$topic" --set stream.checkpoint_interval=1s 2>"$tmp/d1.log" &
pid=$!
# The file run flushes its last buckets at end of input; the stream does not
# (it keeps them open for events to come), so it stops a bucket or two earlier.
wait_origin "${prefix}fc:nasa:requests" $((last - 120000)) 120 >/dev/null || { tail -20 "$tmp/d1.log"; exit 1; }
kill -TERM $pid; wait $pid; pid=

"$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "forecasts.$RUN_ID" -T forecast --min 1 -i 3000 > "$tmp/kafka.ndjson" 2>/dev/null
"$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "dead.$RUN_ID" -T dead --min 7 -i 3000 > "$tmp/dead.ndjson" 2>/dev/null
rraw HGETALL "${prefix}fc:nasa:requests" > "$tmp/redis.txt"

python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
def same(a, b):  # the file run's JSON writer rounds to 15 significant digits
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-13 * max(1.0, abs(a), abs(b))
ref = {}
for l in open(f"{d}/ref.ndjson"):
    f = json.loads(l)
    ref[(f["series"], f["metric"], f["model"], f["origin_ms"])] = f
kaf = [json.loads(l) for l in open(f"{d}/kafka.ndjson")]
assert kaf, "no forecasts in Kafka"
seen = set()
for f in kaf:
    k = (f["series"], f["metric"], f["model"], f["origin_ms"])
    assert k in ref, f"forecast {k} not issued by the file run"
    assert k not in seen, f"forecast {k} published twice"
    seen.add(k)
    r = ref[k]
    assert same(f["actual"], r["actual"]), (k, f["actual"], r["actual"])
    assert len(f["steps"]) == len(r["steps"]) == 15
    for a, b in zip(f["steps"], r["steps"]):
        for x in ("mean", "lo80", "hi80", "lo95", "hi95"):
            assert same(a[x], b[x]), (k, x, a[x], b[x])
missing = set(ref) - seen
last = max(k[3] for k in ref)
assert all(k[3] >= last - 60000 for k in missing), f"missing forecasts {sorted(missing)[:5]}"  # buckets the file run flushed at its end
# Redis: the latest forecast (highest origin) of the published model.
lines = open(f"{d}/redis.txt").read().split("\n")
h = dict(zip(lines[0::2], lines[1::2]))
top = max((f for f in kaf), key=lambda f: f["origin_ms"])
assert int(h["origin_ms"]) == top["origin_ms"], (h["origin_ms"], top["origin_ms"])
assert float(h["point"]) == top["steps"][0]["mean"], (h["point"], top["steps"][0]["mean"])
assert float(h["hi95"]) == top["steps"][0]["hi95"]
assert h["model"] == top["model"] and int(h["horizon"]) == 15
dead = [json.loads(l) for l in open(f"{d}/dead.ndjson")]
assert len(dead) == 7, len(dead)
assert all(x["error"] == "TC_EPARSE" and x["reason"] for x in dead), dead[0]
print(f"ok: {len(kaf)} forecasts equal to the file run, Redis latest ok, 7 dead letters")
PY

# Restart: the checkpoint is restored and nothing is consumed again.
kafka_daemon "$group" "$prefix" "$RUN_ID" "$topic" --set log.level=info 2>"$tmp/d2.log" &
pid=$!
for _ in $(seq 1 60); do grep -q "partition restored" "$tmp/d2.log" && break; sleep 0.5; done
sleep 3
kill -TERM $pid; wait $pid; pid=
grep -q 'partition restored.*offset=30969' "$tmp/d2.log" || { echo "no restore at 30969"; cat "$tmp/d2.log"; exit 1; }
grep -q 'stream stopped" messages=0 ' "$tmp/d2.log" || { echo "restart consumed again"; grep stopped "$tmp/d2.log"; exit 1; }
echo ok
