#!/usr/bin/env bash
# The whole test suite, as `make test` and .ci/run run it:
#   1. build plain (build/) and sanitized (build-asan/, ASan+UBSan) trees;
#   2. unit tests in both trees;
#   3. end-to-end scripts tests/e2e/*.sh against both trees (BIN=build|build-asan);
#   4. integration scripts tests/integration/*.sh against real Redis and a real
#      Kafka broker, which tests/servers.sh starts when they are not running.
# Each script exits 0 on success; this runner prints `N passed, N failed` last.
# TC_TEST_FILTER=substring limits unit tests and scripts by name.
set -uo pipefail
cd "$(dirname "$0")/.."
export TC_DATA_DIR=${TC_DATA_DIR:-$PWD/data}
JOBS=$(nproc 2>/dev/null || echo 2)
filter=${TC_TEST_FILTER:-}

passed=0; failed=0; failures=()
count_unit() { # parse the runner's closing line
  local line; line=$(tail -n 1 "$1")
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1])); failed=$((failed + BASH_REMATCH[2]))
    [ "${BASH_REMATCH[2]}" -eq 0 ] || failures+=("unit($2)")
  else
    failed=$((failed + 1)); failures+=("unit($2): runner did not finish")
  fi
}
run_script() { # name, build dir, script
  local log; log=$(mktemp)
  if BIN=$2 timeout "${TC_SCRIPT_TIMEOUT:-600}" bash "$3" >"$log" 2>&1; then
    echo "ok   $1 [$2]"; passed=$((passed + 1))
  else
    echo "FAIL $1 [$2]"; sed 's/^/    /' "$log" | tail -n 40
    failed=$((failed + 1)); failures+=("$1 [$2]")
  fi
  rm -f "$log"
}

echo "== build (plain and ASan+UBSan)"
make --no-print-directory -j"$JOBS" build-all BUILD=build >/tmp/tc-build.log 2>&1 ||
  { tail -n 60 /tmp/tc-build.log; echo "0 passed, 1 failed"; exit 1; }
if grep -q 'warning:' /tmp/tc-build.log; then
  grep 'warning:' /tmp/tc-build.log; echo "build has warnings"; failed=$((failed + 1)); failures+=("warnings")
fi
make --no-print-directory -j"$JOBS" build-all BUILD=build-asan SAN=1 >/tmp/tc-build-asan.log 2>&1 ||
  { tail -n 60 /tmp/tc-build-asan.log; echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for b in build build-asan; do
  echo "== unit tests [$b]"
  log=$(mktemp)
  ./$b/unit_tests $filter 2>&1 | tee "$log" | grep -v '^ok ' || true
  count_unit "$log" "$b"; rm -f "$log"
done

for b in build build-asan; do
  echo "== end-to-end [$b]"
  for s in tests/e2e/*.sh; do
    [ -e "$s" ] || continue
    n=$(basename "$s" .sh); [[ -z $filter || $n == *"$filter"* ]] || continue
    run_script "$n" "$b" "$s"
  done
done

if compgen -G "tests/integration/*.sh" >/dev/null; then
  echo "== integration (real Redis, real Kafka)"
  if bash tests/servers.sh up; then
    trap 'bash tests/servers.sh down' EXIT
    # TC_KAFKA_BROKERS, TC_REDIS_HOST, TC_REDIS_PORT for the scripts.
    eval "$(bash tests/servers.sh env)"
    for s in tests/integration/*.sh; do
      n=$(basename "$s" .sh); [[ -z $filter || $n == *"$filter"* ]] || continue
      run_script "$n" build "$s"
    done
  else
    echo "FAIL servers did not start"; failed=$((failed + 1)); failures+=("servers")
  fi
fi

[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
