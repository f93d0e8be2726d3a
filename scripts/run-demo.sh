#!/usr/bin/env bash
# `make run`: replays the bundled NASA web-server day (1995-08-01, 30,969 real
# requests) through tidecastd with 1-minute buckets, forecasts 15 minutes ahead
# with the seasonal naive, SARIMA and LSTM models and their ensemble, and
# autoscaling at 20 requests per minute per replica. Prints per minute the
# actual aggregates next to the forecast made for that minute one minute
# earlier, then each model's accuracy and the scale signals. Each stage is a
# function so that other demos (Kafka, churn) can be added next to it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

convert_nasa() { # -> $work/nasa.pb
  "$BIN/tidecast" convert --from nasa --format protobuf "$DATA/weblog/nasa_19950801.tsv" "$work/nasa.pb"
}

replay() { # input file -> $work/buckets, $work/forecasts, $work/scale
  "$BIN/tidecastd" --config conf/tidecast.conf --set input.source="$1" --set input.format=protobuf \
    --set window.bucket=60s --set window.lateness=5s --set log.level=warn \
    --set forecast.horizon=15 --set forecast.season=60 --set forecast.models=snaive,sarima,lstm \
    --set forecast.publish=all --set arima.fit_after=120 \
    --set autoscale.enabled=true --set autoscale.capacity=20 --set autoscale.max_replicas=20 \
    --set output.buckets="$work/buckets" --set output.forecasts="$work/forecasts" \
    --set output.scale="$work/scale"
}

print_table() { # buckets and the ensemble's one-step forecasts, side by side
  jq -r 'select(.model == "ensemble") | [.origin_ms + .bucket_ms, .steps[0].mean, .steps[0].lo80, .steps[0].hi80] | @tsv' \
    "$work/forecasts" > "$work/h1"
  jq -r '[.bucket_start_ms, .bucket_start, .series, .requests, .unique_users, .bytes, .errors] | @tsv' "$work/buckets" |
    awk -F'\t' -v h1="$work/h1" '
      BEGIN { while ((getline line < h1) > 0) { split(line, f, "\t"); m[f[1]] = f[2]; lo[f[1]] = f[3]; hi[f[1]] = f[4] }
              printf "%-21s %-6s %8s %7s %10s %6s   %s\n", "minute (UTC)", "series", "requests", "users~", "bytes", "errors", "forecast [80% interval] (ensemble, made 1 min before)" }
      { fc = ($1 in m) ? sprintf("%7.1f [%6.1f, %6.1f]", m[$1], lo[$1], hi[$1]) : ""
        printf "%-21s %-6s %8d %7d %10d %6d   %s\n", $2, $3, $4, $5, $6, $7, fc; n++; r += $4 }
      END { printf "\n%d minutes, %d requests\n", n, r }'
}

print_accuracy() { # last accuracy line of each model
  echo
  echo "one-step accuracy over the day (requests per minute):"
  jq -r -s 'group_by(.model) | map(last) | .[] |
    [.model, .accuracy.n, .accuracy.mae, .accuracy.rmse, .accuracy.mase, .accuracy.coverage80] | @tsv' "$work/forecasts" |
    awk -F'\t' 'BEGIN { printf "  %-9s %6s %8s %8s %7s %11s\n", "model", "n", "MAE", "RMSE", "MASE", "cover80" }
                { printf "  %-9s %6d %8.2f %8.2f %7.3f %11.3f\n", $1, $2, $3, $4, $5, $6 }'
}

print_scale() {
  echo
  echo "scale signals (capacity 20 requests/min per replica, p95 bound, 15 min ahead):"
  jq -r '"  \(.origin)  \(.current_replicas) -> \(.recommended_replicas)  \(.reason)"' "$work/scale"
}

churn_cdnow() { # CDNOW purchases -> churn alerts
  "$BIN/tidecast" convert --from cdnow "$DATA/cdnow/CDNOW_sample.txt" "$work/cdnow.ndjson"
  "$BIN/tidecastd" --config conf/tidecast.conf --set input.source="$work/cdnow.ndjson" \
    --set window.bucket=1d --set window.lateness=0s --set log.level=warn --set output.buckets= \
    --set churn.enabled=true --set churn.secret=demo-secret-not-for-production \
    --set churn.transaction=purchase --set churn.merge_same_day=true --set churn.alert_threshold=0.8 \
    --set churn.sweep_every=7d --set churn.refit_every=90d --set output.churn_alerts="$work/alerts"
  echo
  echo "churn alerts on the CDNOW sample (2,357 customers, 1997-01 to 1998-06; risk = P(no purchase in 30 days)):"
  jq -r '.as_of[0:7]' "$work/alerts" | sort | uniq -c | awk '{ printf "  %s  %5d alerts\n", $2, $1 }'
  echo "  first alerts:"
  head -n 5 "$work/alerts" | jq -r '"    \(.as_of[0:10])  user \(.user)  risk \(.risk * 1000 | round / 1000)  last purchase \(.last_seen_ms / 1000 | todate | .[0:10])"'
}

convert_nasa
replay "$work/nasa.pb"
print_table
print_accuracy
print_scale
churn_cdnow
BIN="$BIN" bash scripts/run-kafka-demo.sh
