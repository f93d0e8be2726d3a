#!/usr/bin/env bash
# Two daemons in one consumer group share the four partitions of a topic
# carrying 8 series (the NASA day spread over 8 sites); while the input is
# still arriving, one of them is stopped (SIGTERM: it checkpoints its
# partitions and leaves) and the other takes them over from the checkpoints.
# Compared with one daemon that consumed the same topic alone: the same
# forecasts with the same values for every series and bucket, and the same
# latest forecast of every series in Redis -- nothing lost, nothing counted
# twice (a double-counted event would change the bucket's actual value).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 $p 2>/dev/null || true; done; rm -rf "$tmp"; true' EXIT
topic=traffic.group.$RUN_ID
FAST=(--set kafka.consumer.session.timeout.ms=6000 --set stream.checkpoint_interval=500ms)

"$BIN/tidecast" convert --from nasa --format protobuf "$DATA/weblog/nasa_19950801.tsv" "$tmp/nasa.pb" 2>/dev/null
"$BIN/tidecast" produce -b "$TC_KAFKA_BROKERS" --traffic "$topic" --sites 8 --rate 2500 "$tmp/nasa.pb" 2>/dev/null &
prod=$!

# G: two members; X leaves after a few seconds.
kafka_daemon g.G.$RUN_ID "g$RUN_ID:" "G$RUN_ID" "$topic" "${FAST[@]}" --set log.level=info 2>"$tmp/x.log" &
x=$!; pids+=($x)
kafka_daemon g.G.$RUN_ID "g$RUN_ID:" "G$RUN_ID" "$topic" "${FAST[@]}" --set log.level=info 2>"$tmp/y.log" &
y=$!; pids+=($y)
for _ in $(seq 1 120); do grep -q "assigned [1-9]" "$tmp/x.log" && grep -q "assigned [1-9]" "$tmp/y.log" && break; sleep 0.25; done
grep -q "assigned [1-9]" "$tmp/x.log" && grep -q "assigned [1-9]" "$tmp/y.log" ||
  { echo "the two members did not share the partitions"; tail -5 "$tmp/x.log" "$tmp/y.log"; exit 1; }
sleep 3
kill -TERM $x; wait $x
wait $prod
# Y now owns all partitions; wait for it to finish every series.
for s in $(seq 0 7); do
  wait_origin "g$RUN_ID:fc:nasa-$s:requests" 0 180 >/dev/null
done
kill -TERM $y; wait $y
grep -q "assigned 4 partition" "$tmp/y.log" || { echo "Y never took over all partitions"; grep assigned "$tmp/y.log"; exit 1; }
echo "X: $(grep -c 'partition restored' "$tmp/x.log") restores; Y: $(grep -c 'partition restored' "$tmp/y.log") restores"

# R: one daemon alone over the complete topic.
kafka_daemon g.R.$RUN_ID "r$RUN_ID:" "R$RUN_ID" "$topic" "${FAST[@]}" 2>"$tmp/r.log" &
r=$!; pids+=($r)
for s in $(seq 0 7); do
  want=$(rraw HGET "g$RUN_ID:fc:nasa-$s:requests" origin_ms)
  wait_origin "r$RUN_ID:fc:nasa-$s:requests" "$want" 180 >/dev/null
done
kill -TERM $r; wait $r

for s in $(seq 0 7); do
  for run in g r; do rraw HGETALL "$run$RUN_ID:fc:nasa-$s:requests" | paste - - | grep -v issued_at_ms > "$tmp/$run.$s"; done
  cmp -s "$tmp/g.$s" "$tmp/r.$s" || { echo "Redis differs for nasa-$s"; diff "$tmp/g.$s" "$tmp/r.$s"; exit 1; }
done
for run in G R; do
  "$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "forecasts.$run$RUN_ID" -T forecast --min 1 -i 3000 > "$tmp/$run.fc" 2>/dev/null
done
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
def load(p):
    m = {}
    for l in open(p):
        o = json.loads(l)
        for k in ("partition", "offset", "issued_at_ms"):
            o.pop(k, None)
        k = (o["key"], o["model"], o["origin_ms"])
        assert k not in m or m[k] == o, f"republished forecast differs: {k}"
        m[k] = o
    return m
G, R = load(f"{d}/G.fc"), load(f"{d}/R.fc")
assert G.keys() == R.keys(), f"forecast sets differ: {len(G)} vs {len(R)}; missing {sorted(R.keys() - G.keys())[:3]}"
assert all(G[k] == R[k] for k in R), "forecast values differ"
series = {k[0] for k in R}
assert len(series) == 8, series
print(f"ok: {len(R)} forecasts of {len(series)} series equal to a single consumer's")
PY
