#!/usr/bin/env bash
# `make run`: replays the bundled NASA web-server day (1995-08-01, 30,969 real
# requests) through tidecastd with 1-minute buckets and prints the per-minute
# aggregates as a table. Each stage is a function so that other demos (Kafka,
# forecasts) can be added next to it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

convert_nasa() { # -> $work/nasa.pb
  "$BIN/tidecast" convert --from nasa --format protobuf "$DATA/weblog/nasa_19950801.tsv" "$work/nasa.pb"
}

replay() { # input file -> NDJSON buckets on stdout
  "$BIN/tidecastd" --config conf/tidecast.conf --set input.source="$1" --set input.format=protobuf \
    --set window.bucket=60s --set window.lateness=5s --set log.level=warn
}

print_table() { # NDJSON buckets on stdin -> table
  awk '
    function field(name,   m) { if (match($0, "\"" name "\":[^,}]*")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", m); gsub(/"/, "", m); return m } return "" }
    BEGIN { printf "%-22s %-8s %9s %9s %11s %7s\n", "minute (UTC)", "series", "requests", "users~", "bytes", "errors" }
    { printf "%-22s %-8s %9s %9s %11s %7s\n", field("bucket_start"), field("series"), field("requests"), field("unique_users"), field("bytes"), field("errors")
      n++; r += field("requests") }
    END { printf "\n%d minutes, %d requests\n", n, r }'
}

convert_nasa
replay "$work/nasa.pb" | print_table
