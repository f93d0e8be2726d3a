#!/usr/bin/env bash
# Crash test on the real broker and Redis: tidecastd is killed with SIGKILL
# at three random moments while it consumes the NASA day and restarted each
# time (restoring the last checkpoint from Redis, seeking to its offset).
# Compared with an uninterrupted run of the same input: the final Redis
# forecast hash is equal (all fields but issued_at_ms), and the forecasts and
# scale signals in Kafka are the same set with the same values (a replay after
# a crash may publish some twice, always with identical values).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
tmp=$(mktemp -d)
pid=
trap '{ [ -n "$pid" ] && kill -9 $pid 2>/dev/null; } || true; rm -rf "$tmp"; true' EXIT
topic=traffic.crash.$RUN_ID
FAST=(--set kafka.consumer.session.timeout.ms=6000 --set stream.checkpoint_interval=500ms)

"$BIN/tidecast" convert --from nasa --format protobuf "$DATA/weblog/nasa_19950801.tsv" "$tmp/nasa.pb" 2>/dev/null
"$BIN/tidecastd" "${PIPE_SETS[@]}" --set input.source="$tmp/nasa.pb" --set input.format=protobuf \
  --set output.buckets= --set output.forecasts="$tmp/ref.ndjson"
want=$(( $(tail -n 1 "$tmp/ref.ndjson" | python3 -c 'import json,sys; print(json.load(sys.stdin)["origin_ms"])') - 120000 ))

# The input arrives while B runs: 1500 events/s, about 21 s for the day.
"$BIN/tidecast" produce -b "$TC_KAFKA_BROKERS" --traffic "$topic" --rate 1500 "$tmp/nasa.pb" 2>/dev/null &
prod=$!

# B: killed three times at random points, restarted each time.
kills=0
for i in 1 2 3; do
  kafka_daemon g.B.$RUN_ID "b$RUN_ID:" "B$RUN_ID" "$topic" "${FAST[@]}" --set log.level=info 2>>"$tmp/b.log" &
  pid=$!
  # Wait for the assignment, then a random 0.3-2.3 s of processing.
  for _ in $(seq 1 120); do grep -c "assigned" "$tmp/b.log" | grep -qx "$i" && break; sleep 0.25; done
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.3 + 1.5 * r / 32768 }')"
  kill -9 $pid; wait $pid 2>/dev/null || true; pid=
  kills=$((kills + 1))
  echo "kill -9 #$i at origin $(rraw HGET "b$RUN_ID:fc:nasa:requests" origin_ms)"
done
kafka_daemon g.B.$RUN_ID "b$RUN_ID:" "B$RUN_ID" "$topic" "${FAST[@]}" --set log.level=info 2>>"$tmp/b.log" &
pid=$!
wait $prod
want=$(wait_origin "b$RUN_ID:fc:nasa:requests" "$want" 180) || { tail -30 "$tmp/b.log"; exit 1; }
kill -TERM $pid; wait $pid; pid=
echo "restores: $(grep -c 'partition restored' "$tmp/b.log")"

# A: uninterrupted, over the same (now complete) topic.
kafka_daemon g.A.$RUN_ID "a$RUN_ID:" "A$RUN_ID" "$topic" "${FAST[@]}" 2>"$tmp/a.log" &
pid=$!
wait_origin "a$RUN_ID:fc:nasa:requests" "$want" 180 >/dev/null || { tail "$tmp/a.log"; exit 1; }
kill -TERM $pid; wait $pid; pid=

for run in a b; do rraw HGETALL "$run$RUN_ID:fc:nasa:requests" > "$tmp/$run.redis"; done
for run in A B; do
  "$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "forecasts.$run$RUN_ID" -T forecast --min 1 -i 3000 > "$tmp/$run.fc" 2>/dev/null
  "$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "autoscale.$run$RUN_ID" -T scale -i 3000 > "$tmp/$run.sc" 2>/dev/null
done
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
def redis(p):
    l = open(p).read().split("\n")
    h = dict(zip(l[0::2], l[1::2])); h.pop("issued_at_ms", None); return h
a, b = redis(f"{d}/a.redis"), redis(f"{d}/b.redis")
assert a == b, f"Redis differs:\n{a}\n{b}"
def outputs(p, key):
    m = {}
    for l in open(p):
        o = json.loads(l)
        o.pop("partition"); o.pop("offset"); o.pop("issued_at_ms", None)
        k = key(o)
        if k in m:
            assert m[k] == o, f"replayed output differs: {k}"
        m[k] = o
    return m
fk = lambda o: (o["key"], o["model"], o["origin_ms"])
sk = lambda o: (o["key"], o["origin_ms"])
A, B = outputs(f"{d}/A.fc", fk), outputs(f"{d}/B.fc", fk)
assert A.keys() == B.keys(), f"forecast sets differ: {len(A)} vs {len(B)}"
assert all(A[k] == B[k] for k in A), "forecast values differ"
SA, SB = outputs(f"{d}/A.sc", sk), outputs(f"{d}/B.sc", sk)
assert SA == SB, f"scale signals differ: {len(SA)} vs {len(SB)}"
dups = sum(1 for _ in open(f"{d}/B.fc")) - len(B)
print(f"ok: {len(A)} forecasts and {len(SA)} scale signals equal; {dups} replayed duplicates")
PY
