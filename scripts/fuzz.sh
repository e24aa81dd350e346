#!/usr/bin/env bash
# Runs the libFuzzer targets in fuzz/ (docs/testing.md).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   default: 60 s each, every target
# Builds them first when needed (clang, ASan + UBSan, into build-fuzz/). Each
# target starts from a scratch copy of its committed seeds, fuzz/corpus/<target>/,
# which therefore never grows; what a run finds stays in build-fuzz/runs/<target>/.
# Exits non-zero when a target crashed, and says where the input is.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
if [[ ${1:-} =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
all=($(sed -n 's/^relay_fuzz_target(\([a-z0-9_]*\).*/\1/p' fuzz/CMakeLists.txt))
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  if [[ " ${all[*]} " != *" $t "* ]]; then
    echo "fuzz.sh: no target '$t'; targets: ${all[*]}" >&2
    exit 2
  fi
done
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: needs clang with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

dir=build-fuzz
if [ ! -f "$dir/CMakeCache.txt" ]; then
  generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  CC=clang CXX=clang++ cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRELAY_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build "$dir" --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}"

# Leaks are checked per input; GStreamer is not linked into any target, but
# keep the same third-party list as the tests.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_odr_violation=2"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

crashed=0
printf '%-14s %10s %8s %8s  %s\n' target execs exec/s corpus result
for t in "${targets[@]}"; do
  run="$dir/runs/$t"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp fuzz/corpus/"$t"/* "$run/corpus/"
  dict=()
  if [ -f "fuzz/dict/$t.dict" ]; then dict=(-dict="fuzz/dict/$t.dict"); fi
  status=0
  "$dir/fuzz/fuzz_$t" "$run/corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$PWD/$run/artifacts/" -print_final_stats=1 >"$run/log" 2>&1 || status=$?
  stat() { sed -n "s/^stat::$1: *//p" "$run/log" | tail -n 1; }
  execs=$(stat number_of_executed_units)
  rate=$(stat average_exec_per_sec)
  corpus=$(find "$run/corpus" -type f | wc -l)
  artifact=$(find "$run/artifacts" -type f | head -n 1)
  if [ "$status" -eq 0 ] && [ -z "$artifact" ]; then
    result=ok
  else
    crashed=1
    result="CRASH (exit $status): input ${artifact:-none written}, log $run/log"
  fi
  printf '%-14s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done

if ((crashed)); then
  cat >&2 <<EOF

Reproduce:   $dir/fuzz/fuzz_<target> <input>
Once fixed:  copy the input to fuzz/regressions/<target>/<what-it-broke>; ctest's
             fuzz_replay_<target> then replays it in every build.
EOF
  exit 1
fi
