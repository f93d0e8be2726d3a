#!/usr/bin/env bash
# Malformed input never stops tidecastd: each bad line goes to the dead-letter
# file with its line number, error code and reason; the daemon exits 0 and the
# good events are still counted.
set -euo pipefail
BIN=${BIN:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
big=$(head -c 3000 /dev/zero | tr '\0' 'x')
cat > "$tmp/in.ndjson" <<JSON
{"kind":"traffic","event_time_ms":1700000000000,"site":"a.example","path":"/","status":200,"bytes":10}
this is not json
{"kind":"traffic","event_time_ms":1700000001000,"path":"/x"}
{"kind":"traffic","event_time_ms":12,"site":"a.example"}
{"kind":"traffic","event_time_ms":1700000002000,"site":"a.example","status":"ok"}
{"kind":"traffic","event_time_ms":1700000003000,"site":"$big"}
{"kind":"gossip","event_time_ms":1700000004000,"site":"a.example"}

{"kind":"traffic","event_time_ms":1700000005000,"site":"a.example","path":"/y","status":503,"bytes":5}
{"kind":"behavior","event_time_ms":1700000006000,"site":"a.example","user_id":"u1","type":"purchase","value":12.5}
JSON
"$BIN/tidecastd" --set input.source="$tmp/in.ndjson" --set output.dead_letter="$tmp/dead.ndjson" \
  --set window.lateness=0s > "$tmp/out" 2> "$tmp/log"
echo "exit 0"
cat "$tmp/dead.ndjson"
# One record per bad line, in order, with the reason's code.
want=$'2 TC_EPARSE\n3 TC_EMISSING_KEY\n4 TC_EBAD_TIMESTAMP\n5 TC_EBAD_TYPE\n6 TC_EOVERSIZED\n7 TC_EUNKNOWN_TYPE'
got=$(jq -r '"\(.line) \(.error)"' "$tmp/dead.ndjson")
[ "$got" = "$want" ] || { echo "dead letters differ:"; echo "$got"; exit 1; }
jq -e 'select(.reason == "" or .payload == null) | halt_error' "$tmp/dead.ndjson" >/dev/null 2>&1 &&
  { echo "a dead letter lacks reason or payload"; exit 1; }
grep -c 'level=warn msg="malformed event"' "$tmp/log" | grep -qx 6
grep -q 'events=3 malformed=6 ' "$tmp/log"
# Good events: 2 requests (one 503 error), 1 conversion of 12.5.
jq -e -s 'length == 1 and .[0].series == "a.example" and .[0].requests == 2 and .[0].errors == 1
          and .[0].bytes == 15 and .[0].conversions == 1 and .[0].revenue == 12.5' "$tmp/out" >/dev/null ||
  { echo "bucket wrong:"; cat "$tmp/out"; exit 1; }

# Protobuf: a garbage frame is dead-lettered (hex payload) and the rest still counts.
"$BIN/tidecast" convert --from nasa --format protobuf /dev/stdin "$tmp/good.pb" <<TSV
host	logname	time	method	url	response	bytes	referer	useragent
h1	-	807256800	GET	/a	200	100		
h2	-	807256801	GET	/b	200	50		
TSV
{ head -c 0 /dev/null; printf '\x03\xff\xff\xff'; cat "$tmp/good.pb"; } > "$tmp/bad.pb"
"$BIN/tidecastd" --set input.source="$tmp/bad.pb" --set input.format=protobuf \
  --set output.dead_letter="$tmp/dead.pb.ndjson" > "$tmp/out.pb" 2> "$tmp/log.pb"
jq -e -s 'length == 1 and .[0].frame == 1 and .[0].error == "TC_EPARSE" and .[0].payload_hex == "ffffff"' \
  "$tmp/dead.pb.ndjson" >/dev/null || { cat "$tmp/dead.pb.ndjson"; exit 1; }
jq -e -s 'length == 1 and .[0].requests == 2 and .[0].bytes == 150' "$tmp/out.pb" >/dev/null ||
  { cat "$tmp/out.pb"; exit 1; }
echo ok
