#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer; `make fuzz` runs it. Not part of
# `make test`: the unit suite has its own seeded, bounded fuzzer
# (tests/unit/test_fuzz.c) with the same checks (tests/unit/fuzz_targets.c).
#
#   1. installs clang from Debian if it is missing;
#   2. builds libtidecast/libtidecastd with clang, ASan+UBSan and coverage
#      instrumentation into build-fuzz/ and links one harness per target
#      (tests/fuzz/fuzz_<target>.c) with -fsanitize=fuzzer,address,undefined;
#   3. writes the starting corpus from real data (NASA and CDNOW events,
#      snapshots, conf/tidecast.conf) with the unit suite's seed writer;
#   4. runs each target for TC_FUZZ_SECONDS_PER_TARGET seconds (default 60)
#      and prints executions, corpus size and any crash, leak or timeout
#      (inputs saved under build-fuzz/crashes/).
# Exits 1 if any target found something. TC_FUZZ_TARGETS limits the targets.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${TC_FUZZ_SECONDS_PER_TARGET:-60}
targets=${TC_FUZZ_TARGETS:-"decode snapshot config framer"}
out=build-fuzz
JOBS=$(nproc 2>/dev/null || echo 2)

if ! command -v clang >/dev/null; then
  echo "== installing clang (Debian)"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y clang >/dev/null ||
    { echo "cannot install clang"; exit 2; }
fi

mkdir -p "$out"
echo "== build (clang, libFuzzer coverage, ASan+UBSan) into $out/"
make --no-print-directory -j"$JOBS" "$out/libtidecast.a" "$out/libtidecastd.a" BUILD="$out" \
  CC=clang SAN=1 CFLAGS="-fsanitize=fuzzer-no-link" >"$out/build.log" 2>&1 ||
  { tail -n 40 "$out/build.log"; exit 2; }
PKGS="rdkafka libuv openblas lapacke hiredis libprotobuf-c jansson inih libsodium"
for t in $targets; do
  clang -std=c11 -g -O1 -D_GNU_SOURCE -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I. -Ilib -I"$out/gen" $(pkg-config --cflags $PKGS) \
    -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" tests/unit/fuzz_targets.c \
    "$out/libtidecastd.a" "$out/libtidecast.a" $(pkg-config --libs $PKGS) -llbfgs -lpthread -lm ||
    exit 2
done

echo "== seeds from data/ (unit suite's seed writer)"
make --no-print-directory -j"$JOBS" build/unit_tests >/dev/null 2>&1 || exit 2
rm -rf "$out/seeds"
TC_DATA_DIR=${TC_DATA_DIR:-$PWD/data} TC_FUZZ_SEED_DIR="$PWD/$out/seeds" TC_FUZZ_ITERS=0 \
  ./build/unit_tests fuzz_ >/dev/null 2>&1
declare -A seeddir=([decode]=decode [snapshot]=snapshot [config]=config [framer]=framer)

export TC_DATA_DIR=${TC_DATA_DIR:-$PWD/data}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
found=0
printf '%-10s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in $targets; do
  mkdir -p "$out/corpus/$t" "$out/crashes" "$out/tmp-$t"
  log="$out/fuzz_$t.log"
  TC_FUZZ_TMPDIR="$PWD/$out/tmp-$t" "./$out/fuzz_$t" -max_total_time="$secs" -timeout=20 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" \
    "$out/corpus/$t" "$out/seeds/${seeddir[$t]}" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  ncorp=$(find "$out/corpus/$t" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    result=ok
  else
    found=1
    result="FOUND: $(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|^fuzz_[a-z]*: ' "$log" | cut -c1-160)"
    result="$result; input $(grep -o "$out/crashes/[^ ]*" "$log" | tail -1)"
  fi
  printf '%-10s %12s %10s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$ncorp" "$result"
done
[ $found -eq 0 ] || echo "see $out/fuzz_<target>.log; reproduce with ./$out/fuzz_<target> <input>"
exit $found
