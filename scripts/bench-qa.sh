#!/usr/bin/env bash
# Benchmark (not a test): Q&A fan-out to many live pages.
#
#   scripts/bench-qa.sh            # build/seminar-relay must exist (scripts/build.sh)
#
# Starts the relay on a free loopback port with a light video ladder and a fresh
# Q&A database, then runs bench/qa_load.cpp (built on demand as the qa-load target):
# BENCH_SUBSCRIBERS WebSocket subscribers connect to the current room, and a
# moderator approves and then stages each of BENCH_QUESTIONS prepared questions,
# one action every BENCH_INTERVAL_MS. For every event and subscriber it measures
# the time from the moderator's 2xx answer to the subscriber's receipt (an event
# that arrives before the moderator's own answer counts as 0), and counts events
# a subscriber never received (lost) or received twice. Prints p50/p99/max and
# the CPU time the relay (video pipeline included) and the generator spent.
# The load generator runs on the same machine; it reads all subscribers on one thread.
#
# Environment:
#   BENCH_SUBSCRIBERS=5000   WebSocket subscribers
#   BENCH_QUESTIONS=100      questions approved and staged (two actions each)
#   BENCH_INTERVAL_MS=100    pause between the moderator's actions (start to start)
#   BUILD_DIR=build          where seminar-relay is and qa-load is built
#   RELAY_BIN, RELAY_CONFIG  the relay binary and config (BUILD_DIR/seminar-relay, config/relay.toml)
#   RELAY_ARGS               extra relay arguments, e.g. "--set edge.threads=4"
# Exits with qa-load's status: 0 when nothing was lost, doubled or refused.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SUBSCRIBERS=${BENCH_SUBSCRIBERS:-5000}
BENCH_QUESTIONS=${BENCH_QUESTIONS:-100}
BENCH_INTERVAL_MS=${BENCH_INTERVAL_MS:-100}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RELAY_BIN=${RELAY_BIN:-$BUILD_DIR/seminar-relay}
RELAY_CONFIG=${RELAY_CONFIG:-$ROOT/config/relay.toml}
RELAY_ARGS=${RELAY_ARGS:-}

die() { echo "bench-qa: error: $*" >&2; exit 1; }
note() { echo "bench-qa: $*" >&2; }

for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done
[[ -x $RELAY_BIN ]] || die "$RELAY_BIN not found; build it first (scripts/build.sh)"
[[ $BENCH_SUBSCRIBERS =~ ^[0-9]+$ && $BENCH_SUBSCRIBERS -ge 1 ]] || die "BENCH_SUBSCRIBERS must be a whole number >= 1"
[[ $BENCH_QUESTIONS =~ ^[0-9]+$ && $BENCH_QUESTIONS -ge 1 ]] || die "BENCH_QUESTIONS must be a whole number >= 1"
[[ $BENCH_INTERVAL_MS =~ ^[0-9]+$ ]] || die "BENCH_INTERVAL_MS must be a whole number"

cmake --build "$BUILD_DIR" --target qa-load >/dev/null || die "cannot build the qa-load target in $BUILD_DIR"
LOAD_BIN=$BUILD_DIR/qa-load

# Each subscriber is one socket on both sides, plus the relay's own files.
wanted=$((BENCH_SUBSCRIBERS + 1024))
hard=$(ulimit -Hn)
[[ $hard == unlimited || $hard -ge $wanted ]] || die "the open-file hard limit ($hard) is below $wanted; raise it (limits.conf) or lower BENCH_SUBSCRIBERS"
ulimit -n "$wanted"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-qa.XXXXXX")
RELAY_PID=""
cleanup() {
  if [[ -n $RELAY_PID ]] && kill -0 "$RELAY_PID" 2>/dev/null; then
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$RELAY_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

MODERATOR=$(openssl rand -hex 24)
SPEAKER=$(openssl rand -hex 24)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# shellcheck disable=SC2086 # RELAY_ARGS is split on purpose
"$RELAY_BIN" --config "$RELAY_CONFIG" --set "edge.listen=127.0.0.1:$PORT" \
  --set "qa.data_dir=$WORK/data" \
  --set "qa.moderator_tokens=[\"$MODERATOR\"]" --set "qa.speaker_tokens=[\"$SPEAKER\"]" \
  --set "edge.max_connections_per_ip=$((BENCH_SUBSCRIBERS + 64))" \
  --set "edge.max_connections=$((BENCH_SUBSCRIBERS > 8976 ? BENCH_SUBSCRIBERS + 1024 : 10000))" \
  --set ingest.width=640 --set ingest.height=360 --set encoder.preset=ultrafast \
  --set 'encoder.renditions=[{name="180p",width=320,height=180,bitrate_kbps=200,profile="baseline"}]' \
  $RELAY_ARGS >"$WORK/relay.log" 2>&1 &
RELAY_PID=$!

for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/api/qa/rooms" >/dev/null 2>&1 && break
  kill -0 "$RELAY_PID" 2>/dev/null || { tail -5 "$WORK/relay.log" >&2; die "the relay exited"; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/api/qa/rooms" >/dev/null || die "the Q&A API did not answer within 20 s"

note "$BENCH_SUBSCRIBERS subscribers, $BENCH_QUESTIONS questions approved and staged, one action every ${BENCH_INTERVAL_MS} ms"
# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
relay_cpu_before=$(cpu_ticks "$RELAY_PID")
status=0
"$LOAD_BIN" --port "$PORT" --moderator-token "$MODERATOR" --subscriber-token "$SPEAKER" \
  --subscribers "$BENCH_SUBSCRIBERS" --questions "$BENCH_QUESTIONS" --interval-ms "$BENCH_INTERVAL_MS" || status=$?
relay_cpu_ms=$(( ($(cpu_ticks "$RELAY_PID") - relay_cpu_before) * 1000 / $(getconf CLK_TCK) ))
echo "relay CPU during the run ${relay_cpu_ms} ms (video pipeline included)"
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$RELAY_PID/status" 2>/dev/null || echo "?")
echo "relay peak RSS ${rss_kb} kB"
# grep -c exits 1 when it counts nothing, which is the good case.
echo "slow-client closes in the relay log: $(grep -c "ws_queue_limit" "$WORK/relay.log" || true)"
exit "$status"
