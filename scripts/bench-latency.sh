#!/usr/bin/env bash
# Latency benchmark (not a test): the relay on the live test source and the
# attendee page in headless chromium for BENCH_SECONDS (default 120) with LL-HLS,
# then the same with LL-HLS off. Prints p50/p95 latency, stalls, switches.
# BENCH_LIGHT=1 uses the small test ladder instead of the default one;
# BENCH_PART_S sets the LL part duration; BENCH_SKIP_REGULAR=1 skips the comparison run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scripts/build.sh >/dev/null
exec node scripts/bench-latency.mjs
