#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build-fuzz/) and runs each for SECONDS from a
# copy of its seed corpus (tests/fuzz/corpus/<target>/) and of the inputs that once crashed it
# (tests/fuzz/regressions/<target>/); the repository's copies are never changed.
# Prints the executions per target; exits non-zero when a target finds a crash, a leak or a
# sanitizer report, leaving the input that did it in build-fuzz/findings/<target>/.
# Usage: scripts/fuzz.sh [SECONDS=25] [TARGET...]   (JOBS=2 targets run side by side)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${1:-25}"; shift || true
BUILD="$ROOT/build-fuzz"
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DAQ_FUZZ=ON -DAQ_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" --target fuzz -j2 >"$BUILD/fuzz-build.log" 2>&1 || { tail -40 "$BUILD/fuzz-build.log"; exit 1; }
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  for d in tests/fuzz/corpus/*/; do TARGETS+=("$(basename "$d")"); done
fi
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_one() {  # target -> prints one line, returns libFuzzer's status
  local t=$1 work="$BUILD/findings/$1"
  rm -rf "$work"; mkdir -p "$work/corpus"
  cp tests/fuzz/corpus/"$t"/* "$work/corpus/"
  # inputs that once crashed a reader (fixed since) run first, with every run
  if [ -d tests/fuzz/regressions/"$t" ]; then cp tests/fuzz/regressions/"$t"/* "$work/corpus/"; fi
  local log="$work/log.txt" rc=0
  (cd "$work" && "$BUILD/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
     -max_len=262144 -timeout=20 -print_final_stats=1 corpus >"$log" 2>&1) || rc=$?
  local execs; execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  if [ $rc -eq 0 ]; then
    printf '%-28s ok      %9s executions in %ss\n' "$t" "$execs" "$SECONDS_EACH"
  else
    printf '%-28s FAILED  (see %s)\n' "$t" "$log"
    grep -m3 -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | sed 's/^/    /' || true
  fi
  return $rc
}
status=0
pids=()
names=()
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  pids+=($!); names+=("$t")
  if [ ${#pids[@]} -ge "${JOBS:-2}" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
