#!/usr/bin/env bash
# Installs what is missing, builds, and runs the tests. The last lines are
# ctest's summary. See docs/testing.md.
#   scripts/test.sh [CTEST_ARGS...]
#       build/: every test (unit, integration on the real binary, browser, fuzz replays)
#   scripts/test.sh --sanitize[=address] [CTEST_ARGS...]
#       build-asan/, AddressSanitizer + UndefinedBehaviorSanitizer: the tests
#       labelled asan (unit, fuzz replays, the parsers' and the edge's integration
#       tests; tests/CMakeLists.txt), and only what they need is built
#   scripts/test.sh --sanitize=thread [CTEST_ARGS...]
#       build-tsan/, ThreadSanitizer: the edge, store and Q&A unit tests (the Q&A
#       also on PostgreSQL, two relays on one database) and the
#       edge's integration test (the rest of the process runs GStreamer, which is
#       not built for TSan)
# Sanitizer reports go to <build dir>/sanitizer-reports/, one file per process,
# so that a report from a relay an integration test started is not lost in its
# log; any report fails the run and is printed after ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
case "${1:-}" in
  --sanitize | --sanitize=address) sanitize=address; shift ;;
  --sanitize=thread) sanitize=thread; shift ;;
  --sanitize=*) echo "test.sh: unknown sanitizer '${1#--sanitize=}' (address or thread)" >&2; exit 2 ;;
esac

scripts/setup.sh
ctest_args=()
case "$sanitize" in
  "")
    dir=build
    # Line tables only (-g1): a crash's backtrace still names files and lines,
    # and the build is a fifth faster than with full debug information.
    scripts/build.sh "$dir" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
    ;;
  address)
    dir=build-asan
    BUILD_TARGETS=asan_tests scripts/build.sh "$dir" -DRELAY_SANITIZE=address
    ctest_args=(-L asan)
    ;;
  thread)
    dir=build-tsan
    BUILD_TARGETS="unit_net unit_delivery unit_api unit_auth unit_hls unit_qa seminar-relay" \
      scripts/build.sh "$dir" -DRELAY_SANITIZE=thread
    ctest_args=(-R '^(unit_net|unit_delivery|unit_api|unit_auth|unit_hls|unit_qa|unit_qa_postgres|integration_test_edge_http|integration_test_auth_reload)$')
    ;;
esac

reports=""
if [ -n "$sanitize" ]; then
  reports="$PWD/$dir/sanitizer-reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  supp="$PWD/tests/sanitizers"
  # Environment reaches every process a test starts, the relay included.
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:check_initialization_order=1:strict_init_order=1:detect_odr_violation=2:log_path=$reports/asan:log_exe_name=1"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan:log_exe_name=1"
  # ignore_noninstrumented_modules: a libc call (memset, strcmp...) made from inside
  # GLib, GStreamer or fontconfig is not checked, since those libraries' own
  # synchronisation is invisible to TSan; calls from our code still are.
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$supp/tsan.supp:log_path=$reports/tsan:log_exe_name=1"
  # GLib's slice allocator hands memory between threads through per-thread
  # magazines TSan cannot see; with plain malloc it sees every hand-over.
  export G_SLICE=always-malloc
fi

# One test per core; tests/CMakeLists.txt keeps the encode-heavy ones apart
# (RESOURCE_LOCK encoder). CTEST_PARALLEL_LEVEL=1 runs them one by one.
jobs=${CTEST_PARALLEL_LEVEL:-$(nproc)}
mkdir -p "$dir/test-output"
status=0
(cd "$dir" && ctest --output-on-failure --timeout 600 --parallel "$jobs" "${ctest_args[@]}" "$@") || status=$?

if [ -n "$reports" ] && compgen -G "$reports/*" >/dev/null; then
  echo
  for report in "$reports"/*; do
    echo "=== $report"
    head -n 80 "$report"
  done
  echo "test.sh: FAILED: $(find "$reports" -type f | wc -l) sanitizer report(s) above, in $reports"
  status=1
fi
exit "$status"
