#!/usr/bin/env bash
# Benchmark (not a test): blocking playlist reloads while Q&A writes wait for a
# slow database.
#
#   scripts/bench-qa-isolation.sh      # build/seminar-relay must exist (scripts/build.sh)
#
# Runs tests/integration/test_qa_write_isolation.py with --bench: the relay with one
# edge thread and qa.synchronous="full" on an LL-HLS stream (0.5 s parts); a player
# waits on each next part with _HLS_msn/_HLS_part for 60 reloads, then five times
# another process holds the write lock of the relay's qa.sqlite3 for 2 s while six
# attendees ask four questions each and vote. Prints p50/p90/p99/max answer times
# of the reloads without writes and during the bursts, and of the writes. With the
# writes on the edge thread the reloads during a burst wait for the lock; with the
# writes on their own thread they stay at the part cadence.
#
# Environment:
#   BUILD_DIR=build          where seminar-relay is
#   RELAY_BIN                the relay binary (BUILD_DIR/seminar-relay)
# Exits non-zero only when a write was lost or refused, not on slow reloads.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RELAY_BIN=${RELAY_BIN:-$BUILD_DIR/seminar-relay}

die() { echo "bench-qa-isolation: error: $*" >&2; exit 1; }

[[ -x $RELAY_BIN ]] || die "$RELAY_BIN not found; build it first (scripts/build.sh)"
# Debian's python3-websockets and the other test libraries import only under the
# system interpreter, not under one a version manager put first on PATH.
PYTHON=/usr/bin/python3
[[ -x $PYTHON ]] || die "$PYTHON not found (scripts/setup.sh installs it)"

exec "$PYTHON" "$ROOT/tests/integration/test_qa_write_isolation.py" --bench \
  --binary "$RELAY_BIN" --source-dir "$ROOT"
