#!/usr/bin/env bash
# Real broker, real Redis: the CDNOW sample's purchases (6,919 real events of
# 2,357 customers) produced to a behavior topic, keyed by user; tidecastd
# scores churn in Kafka mode. Checked against tidecastd run directly on the
# same events from files (no Kafka), with the same churn settings: the alerts
# in the churn-alerts topic are the file runs' (same pseudonymous users, same
# risks, none twice); the Redis risk set holds one member per user with that
# user's latest risk, the alerts stream holds the alerts; no raw CDNOW
# customer id appears in any Kafka output or in Redis.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/integration/lib.bash
tmp=$(mktemp -d)
pid=
trap '{ [ -n "$pid" ] && kill -9 $pid 2>/dev/null; } || true; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"; true' EXIT
topic=behavior.churn.$RUN_ID prefix="tc$RUN_ID:" group=g.churn.$RUN_ID

CHURN_SETS=(--set window.bucket=1d --set log.level=warn --set output.buckets=
            --set churn.enabled=true --set churn.secret=integration-secret-of-the-test
            --set churn.transaction=purchase --set churn.merge_same_day=true
            --set churn.alert_threshold=0.7)

"$BIN/tidecast" convert --from cdnow --format protobuf "$DATA/cdnow/CDNOW_sample.txt" "$tmp/cdnow.pb" 2>/dev/null
"$BIN/tidecast" produce -b "$TC_KAFKA_BROKERS" --json --behavior "$topic" "$tmp/cdnow.pb" >/dev/null

# Each partition has its own state and event-time clock (the sweeper that
# re-scores idle users follows the partition's events), so the reference is
# one file run per partition, on that partition's events in offset order.
timeout 120 "$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "$topic" -T raw --min 6919 -i 3000 > "$tmp/in.raw" 2>/dev/null
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
parts = {}
for l in open(f"{d}/in.raw"):
    m = json.loads(l)
    parts.setdefault(m["partition"], []).append((m["offset"], m["value"]))
assert sum(len(v) for v in parts.values()) == 6919
for p, v in parts.items():
    with open(f"{d}/part{p}.ndjson", "w") as f:
        f.writelines(x + "\n" for _, x in sorted(v))
PY
: > "$tmp/ref.ndjson"; : > "$tmp/scores.ndjson"
for f in "$tmp"/part*.ndjson; do
  "$BIN/tidecastd" "${CHURN_SETS[@]}" --set input.source="$f" --set input.format=ndjson \
    --set output.churn_alerts="$f.alerts" --set output.churn_scores="$f.scores"
  cat "$f.alerts" >> "$tmp/ref.ndjson"; cat "$f.scores" >> "$tmp/scores.ndjson"
done
nusers=$(python3 -c 'import json,sys; print(len({json.loads(l)["user"] for l in open(sys.argv[1])}))' "$tmp/scores.ndjson")

"$BIN/tidecastd" "${CHURN_SETS[@]}" --set input.source=kafka --set input.format=ndjson \
  --set kafka.bootstrap.servers="$TC_KAFKA_BROKERS" --set stream.group="$group" \
  --set stream.traffic= --set stream.behavior="$topic" --set stream.annotations= \
  --set stream.forecasts= --set stream.autoscale= --set stream.churn_alerts="churn.alerts.$RUN_ID" \
  --set stream.dead_letter="dead.$RUN_ID" --set stream.checkpoint_interval=1s \
  --set redis.enabled=true --set redis.host="$TC_REDIS_HOST" --set redis.port="$TC_REDIS_PORT" \
  --set redis.prefix="$prefix" 2>"$tmp/d.log" &
pid=$!
# Until the risk set has every user and neither it nor the alerts stream has
# changed for 3 s (bounded).
t0=$SECONDS since=$SECONDS prev=
while :; do
  have="$(rraw ZCARD "${prefix}churn:risk") $(rraw XLEN "${prefix}alerts")"
  [ "$have" != "$prev" ] && { prev=$have; since=$SECONDS; }
  [ "${have% *}" -ge "$nusers" ] && [ $((SECONDS - since)) -ge 3 ] && break
  [ $((SECONDS - t0)) -lt 120 ] || { echo "timeout: risk set/alerts $have, want $nusers users"; tail -20 "$tmp/d.log"; exit 1; }
  sleep 0.5
done
kill -TERM $pid; wait $pid; pid=

timeout 120 "$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "churn.alerts.$RUN_ID" -T alert --min 1 -i 3000 > "$tmp/kafka.ndjson" 2>/dev/null
timeout 120 "$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "churn.alerts.$RUN_ID" -T raw --min 1 -i 3000 > "$tmp/kafka.raw" 2>/dev/null
timeout 60 "$BIN/tidecast" consume -b "$TC_KAFKA_BROKERS" -t "dead.$RUN_ID" -T raw --min 0 -i 2000 > "$tmp/dead.raw" 2>/dev/null || true
rraw ZRANGE "${prefix}churn:risk" 0 -1 WITHSCORES > "$tmp/zset.txt"
rraw XRANGE "${prefix}alerts" - + > "$tmp/stream.txt"
rraw --scan --pattern "${prefix}*" > "$tmp/keys.txt"
while read -r k; do
  echo "$k"
  case $(rraw TYPE "$k") in
    hash) rraw HGETALL "$k" ;; string) rraw GET "$k" ;; zset) rraw ZRANGE "$k" 0 -1 ;;
    stream) rraw XRANGE "$k" - + ;; list) rraw LRANGE "$k" 0 -1 ;; set) rraw SMEMBERS "$k" ;;
  esac
done < "$tmp/keys.txt" > "$tmp/redis_all.txt"

python3 - "$tmp" "$DATA/cdnow/CDNOW_sample.txt" <<'PY'
import json, re, sys
d, src = sys.argv[1:]
def same(a, b):
    return abs(a - b) <= 1e-12 * max(abs(a), abs(b))
ref = {}
for l in open(f"{d}/ref.ndjson"):
    a = json.loads(l)
    assert (a["user"], a["as_of_ms"]) not in ref, a
    ref[(a["user"], a["as_of_ms"])] = a
kaf = [json.loads(l) for l in open(f"{d}/kafka.ndjson")]
assert kaf, "no alerts in Kafka"
seen = set()
for a in kaf:
    k = (a["user"], a["as_of_ms"])
    assert k in ref, f"alert {a} not raised by the file runs"
    assert k not in seen, f"alert {k} published twice"
    seen.add(k)
    assert a["key"] == a["user"], a
    assert same(a["risk"], ref[k]["risk"]), (k, a["risk"], ref[k]["risk"])
    assert same(a["p_alive"], ref[k]["p_alive"]), (k, a["p_alive"], ref[k]["p_alive"])
    assert a["last_seen_ms"] == ref[k]["last_seen_ms"] and a["threshold"] == 0.7
missing = sorted(set(ref) - seen)
assert not missing, f"{len(missing)} alerts of the file runs missing: {[ref[k] for k in missing[:3]]}"
# Redis: one risk per user, the user's latest score.
last = {}
for l in open(f"{d}/scores.ndjson"):
    s = json.loads(l)
    last[s["user"]] = s["risk"]
z = open(f"{d}/zset.txt").read().split("\n")
z = dict(zip(z[0::2], map(float, z[1::2])))
assert set(z) == set(last), (len(z), len(last))
bad = [u for u in z if not same(z[u], last[u])]
assert not bad, [(u, z[u], last[u]) for u in bad[:3]]
# Redis alerts stream (XRANGE --raw: entry id, then field and value lines).
st, cur = [], None
lines = [x for x in open(f"{d}/stream.txt").read().split("\n") if x != ""]
i = 0
while i < len(lines):
    if re.fullmatch(r"\d+-\d+", lines[i]):
        cur = {}; st.append(cur); i += 1
    else:
        cur[lines[i]] = lines[i + 1]; i += 2
assert len(st) == len(kaf), (len(st), len(kaf))
from collections import Counter
assert Counter(e["user"] for e in st) == Counter(u for u, _ in seen)
for e in st:
    if "risk" in e:
        assert any(same(float(e["risk"]), ref[k]["risk"]) for k in seen if k[0] == e["user"]), e
# No raw CDNOW customer id anywhere in the outputs (5 digits, zero padded in
# the events; the pseudonyms are 16 hex digits).
raw = {l.split()[0].zfill(5) for l in open(src) if l.strip()}
hexid = re.compile(r"[0-9a-f]{16}")
assert all(hexid.fullmatch(u) for u, _ in seen) and all(hexid.fullmatch(u) for u in z)
for name in ("kafka.raw", "kafka.ndjson", "dead.raw", "redis_all.txt", "keys.txt"):
    text = open(f"{d}/{name}", encoding="utf-8", errors="replace").read()
    toks = set(re.findall(r"(?<![0-9A-Za-z.])\d{5}(?![0-9A-Za-z.])", text))
    leak = toks & raw
    assert not leak, f"raw customer ids in {name}: {sorted(leak)[:5]}"
    assert "user_id" not in text, name
print(f"ok: {len(kaf)} alerts equal to the file runs, {len(z)} users in Redis, {len(st)} alerts in the stream, no raw ids")
PY
