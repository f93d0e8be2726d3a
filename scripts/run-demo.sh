#!/usr/bin/env bash
# `make run`: the embedded default demo (filled in by the daemon work).
set -euo pipefail
cd "$(dirname "$0")/.."
./build/tidecastd --version
