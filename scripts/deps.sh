#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing tidecast need.
# Idempotent: with --if-missing it returns at once when everything is present.
set -euo pipefail

PKGS=(build-essential pkg-config
      librdkafka-dev libuv1-dev libopenblas-dev liblapacke-dev
      libhiredis-dev libprotobuf-c-dev protobuf-c-compiler
      libjansson-dev libinih-dev libsodium-dev liblbfgs-dev
      redis-server redis-tools maven default-jre-headless python3-venv gawk jq)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# default-jre-headless is satisfied by any installed Java 17+.
if command -v java >/dev/null 2>&1; then
  missing=("${missing[@]/default-jre-headless}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))

if [ "${#missing[@]}" -eq 0 ]; then
  [ "${1:-}" = "--if-missing" ] || echo "deps: all packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
