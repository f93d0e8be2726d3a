#!/usr/bin/env bash
# Creates (or reuses) the Python virtualenv of benchmark peers and installs the
# named PyPI packages into it; prints the venv's python path on stdout.
# The peers are for side-by-side comparison in `make bench` only: never a
# runtime or test dependency of tidecast.
#   usage: scripts/peers-venv.sh statsmodels==0.14.4 lifetimes ...
set -euo pipefail
VENV=${TC_PEERS_VENV:-$(cd "$(dirname "$0")/.." && pwd)/.venv-peers}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --upgrade pip >&2
fi
need=()
for p in "$@"; do
  name=${p%%[=<>]*}
  "$VENV/bin/pip" show -q "$name" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} -eq 0 ] || "$VENV/bin/pip" install -q "${need[@]}" >&2
echo "$VENV/bin/python"
