#!/usr/bin/env bash
# tidecastd with every forecaster on over the NASA day: forecast lines are
# well formed (15 steps, ordered intervals), the seasonal-naive one-step mean
# at each origin equals the requests of the bucket one season earlier (read
# back from the bucket output), scale-ups match ceil(upper / capacity), and
# two runs produce identical outputs (deterministic processing).
set -euo pipefail
BIN=${BIN:-build}
DATA=${TC_DATA_DIR:-data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN/tidecast" convert --from nasa --format protobuf "$DATA/weblog/nasa_19950801.tsv" "$tmp/nasa.pb" 2>/dev/null
run() { # suffix
  "$BIN/tidecastd" --set input.source="$tmp/nasa.pb" --set input.format=protobuf \
    --set window.lateness=0s --set forecast.horizon=15 --set forecast.season=30 \
    --set forecast.models=snaive,sarima,lstm --set forecast.publish=all --set arima.fit_after=60 \
    --set arima.refit_every=20 --set arima.apply_lag=3 \
    --set autoscale.enabled=true --set autoscale.capacity=20 \
    --set output.buckets="$tmp/b$1" --set output.forecasts="$tmp/f$1" --set output.scale="$tmp/s$1" \
    2> "$tmp/log$1"
}
run 1
run 2
cmp "$tmp/f1" "$tmp/f2"
cmp "$tmp/s1" "$tmp/s2"
# Every model appears, each line has 15 ordered steps.
[ "$(jq -r .model "$tmp/f1" | sort -u | tr '\n' ' ')" = "ensemble lstm sarima snaive " ]
jq -e -s 'all(.[]; (.steps | length) == 15 and
          all(.steps[]; .lo95 <= .lo80 and .lo80 <= .mean and .mean <= .hi80 and .hi80 <= .hi95))' \
  "$tmp/f1" >/dev/null
# Seasonal naive: mean(h=1) at origin o == requests at o + 1 - 30 buckets (once 30 are known).
jq -r '[.bucket_start_ms, .requests] | @tsv' "$tmp/b1" > "$tmp/y"
jq -r 'select(.model == "snaive") | [.origin_ms, .steps[0].mean] | @tsv' "$tmp/f1" |
  awk -v yf="$tmp/y" 'BEGIN { while ((getline l < yf) > 0) { split(l, a, "\t"); y[a[1]] = a[2]; if (!t0) t0 = a[1] } }
       $1 >= t0 + 30 * 60000 { want = y[$1 + 60000 - 30 * 60000]; n++
                               if ($2 != want) { print "origin " $1 ": snaive " $2 " != " want; bad = 1 } }
       END { if (n < 700) { print "only " n " checked"; bad = 1 } exit bad }'
# Scale-ups: recommended == ceil(forecast_upper / 20), clamped to [1, 100].
jq -r 'select(.recommended_replicas > .current_replicas) | [.forecast_upper, .recommended_replicas] | @tsv' "$tmp/s1" |
  awk '{ n = int($1 / 20); if (n * 20 < $1) n++; if (n < 1) n = 1; if (n > 100) n = 100
         c++; if (n != $2) { print "upper " $1 " -> " $2 ", want " n; bad = 1 } }
       END { if (c < 3) { print "too few scale-ups: " c; bad = 1 } exit bad }'
echo ok
