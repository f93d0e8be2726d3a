#!/usr/bin/env bash
# Churn engine benchmark (part of `make bench`):
#   1. user-event updates/s on one thread (1 M and 10 M users), sweep rate;
#   2. bytes per user by RSS growth at 10 M users;
#   3. BG/NBD population fit at 1 M synthetic users, and lifetimes'
#      BetaGeoFitter fitting the same users in the same run: time ratio and
#      the log-likelihood of both fits evaluated by the same function.
# Env: CHURN_FIT_USERS (default 1000000), CHURN_PEER_USERS (users given to
# lifetimes, default all of CHURN_FIT_USERS), CHURN_SKIP_PEER=1.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}/bench/churn
N=${CHURN_FIT_USERS:-1000000}
NP=${CHURN_PEER_USERS:-$N}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "--- updates and sweeps"
$B updates 1000000 20000000
$B updates 10000000 20000000
echo "--- memory"
$B rss 10000000
echo "--- population fit ($N users drawn from BG/NBD with CDNOW's parameters)"
$B gen "$N" "$tmp/users.bin"
ours=$($B fit "$tmp/users.bin" 3)
echo "$ours"
ours=$(head -n 1 <<<"$ours")
[ "${CHURN_SKIP_PEER:-0}" = 1 ] && exit 0
PY=$(bash scripts/peers-venv.sh lifetimes)
if [ "$NP" != "$N" ]; then
  head -c $((NP * 24)) "$tmp/users.bin" >"$tmp/peer.bin"
  ours=$($B fit "$tmp/peer.bin" 3); echo "$ours"; ours=$(head -n 1 <<<"$ours")
else
  cp "$tmp/users.bin" "$tmp/peer.bin"
fi
peer=$("$PY" bench/peer_lifetimes.py "$tmp/peer.bin" "$NP" 1)
echo "$peer"
read -r r al a b < <(awk '{for(i=1;i<=NF;i++){if($i=="r")r=$(i+1);if($i=="alpha")al=$(i+1);if($i=="a")a=$(i+1);if($i=="b")b=$(i+1)}} END{print r, al, a, b}' <<<"$peer")
llp=$($B ll "$tmp/peer.bin" "$r" "$al" "$a" "$b" | awk '{print $2}')
llo=$(awk '{for(i=1;i<=NF;i++) if($i=="ll") print $(i+1)}' <<<"$ours")
to=$(awk '{for(i=1;i<=NF;i++) if($i=="time") print $(i+1)}' <<<"$ours")
tp=$(awk '{for(i=1;i<=NF;i++) if($i=="time") print $(i+1)}' <<<"$peer")
awk -v n="$NP" -v to="$to" -v tp="$tp" -v llo="$llo" -v llp="$llp" 'BEGIN{
  printf "fit ratio at %d users: lifetimes %.3f s / tidecast %.3f s = %.1fx faster; ", n, tp, to, tp/to;
  printf "log-likelihood tidecast %.4f, lifetimes %.4f (difference %+.4f)\n", llo, llp, llo-llp}'
