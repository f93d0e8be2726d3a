#!/usr/bin/env bash
# SARIMA(2,0,1)(1,1,1)24 on 60 days of hourly nyc_taxi: tidecast (bench/arima)
# and statsmodels SARIMAX (bench/peer_statsmodels.py) in the same run, then
# the ratios.  Each likelihood is evaluated at both parameter sets, so that
# "no worse" is judged by either definition (tidecast: exact likelihood of
# the differenced series, as R reports; statsmodels: approximate diffuse).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
"$BIN/bench/arima" --dump "$tmp/y.txt" "$tmp/ours.txt" | tee "$tmp/c.out" || exit 1
PY=$(bash scripts/peers-venv.sh statsmodels) || { echo "(statsmodels peer unavailable)"; exit 0; }
"$PY" bench/peer_statsmodels.py "$tmp/y.txt" "$tmp/ours.txt" "$tmp/sm.txt" | tee "$tmp/py.out" || exit 1
"$BIN/bench/arima" --loglik-at "$tmp/sm.txt" | tee "$tmp/at.out"
val() { grep '^RESULT' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
c_fit=$(val "$tmp/c.out" fit_s); c_ll=$(val "$tmp/c.out" loglik)
c_upd=$(val "$tmp/c.out" upd_steady_ns); c_full=$(val "$tmp/c.out" upd_full_ns)
c_fc24=$(val "$tmp/c.out" fc24_us)
p_fit=$(val "$tmp/py.out" fit_s); p_llf=$(val "$tmp/py.out" llf); p_at=$(val "$tmp/py.out" llf_at_tidecast)
p_x=$(val "$tmp/py.out" xllf); p_xat=$(val "$tmp/py.out" xllf_at_tidecast)
p_upd=$(val "$tmp/py.out" upd_ns); p_fc24=$(val "$tmp/py.out" fc24_us)
c_at=$(sed -n 's/^tidecast loglik at statsmodels params: \([-0-9.]*\).*/\1/p' "$tmp/at.out")
awk -v cf="$c_fit" -v pf="$p_fit" -v cl="$c_ll" -v ca="$c_at" -v pl="$p_llf" -v pa="$p_at" \
    -v cu="$c_upd" -v cfu="$c_full" -v pu="$p_upd" -v c24="$c_fc24" -v p24="$p_fc24" -v px="$p_x" -v pxa="$p_xat" 'BEGIN {
  printf "summary: fit %.3f s vs %.3f s = %.1fx faster (target >= 20x)\n", cf, pf, pf / cf
  printf "summary: tidecast likelihood: ours %.3f vs at statsmodels params %.3f (diff %+.3f; target >= -0.1)\n", cl, ca, cl - ca
  printf "summary: statsmodels likelihood: at tidecast params %.3f vs its own %.3f (diff %+.3f)\n", pa, pl, pa - pl
  printf "summary: statsmodels exact-diffuse likelihood: at tidecast params %.3f vs at its own %.3f (diff %+.3f)\n", pxa, px, pxa - px
  printf "summary: update %.1f ns steady (target <= 200), %.0f ns full vs extend() %.0f ns = %.0fx / %.0fx\n", cu, cfu, pu, pu / cu, pu / cfu
  printf "summary: forecast h=24 %.1f us vs %.0f us\n", c24, p24 }'
