#!/usr/bin/env bash
# Benchmark (not a test): the relay as origin with many LL-HLS viewers, direct
# and behind one Varnish node with the shipped configuration (deploy/varnish).
#
#   scripts/bench-scale.sh        # BUILD_DIR/seminar-relay must exist (scripts/build.sh)
#
# For 1,000 and 3,000 simulated viewers (bench/llhls_load.cpp, the llhls-load
# target, built here if missing: blocking playlist reloads, every part, the
# hinted part early, as tests/integration/llhls_load.py), first straight at the
# relay, then at Varnish, it prints the relay's CPU (and that CPU minus its idle
# encoding of the LIGHT ladder), the relay's responses/s, the viewers' requests/s,
# and the latency the tier adds: p50/p99 over every part of the time it reached
# a viewer minus the time it reached a reference player asking the relay
# directly. Then the ratio of the origin's load behind Varnish at 3,000 and at
# 1,000 viewers (target: within 10 %) and the p50 Varnish adds (target: <= 100 ms).
# The parts behind bench/scale.py's figures are described there.
#
# Everything shares this machine's cores. The relay, Varnish and the load
# client's BENCH_PROCS processes (one thread each) run at nice 0
# (BENCH_LOAD_NICE), and the latency probes (a few Python players through the
# tier and reference players on the relay, in a process of their own) at nice
# -5, so the load client's own backlog does not count as a tier's latency.
# SERVER_CPUS and CLIENT_CPUS pin them apart with taskset instead. The output
# shows the parts/s the viewers got in the steady window against the parts/s due
# (2 per viewer with 0.5 s parts), the players that ended behind the live edge
# and the requests/s they made, so the load a figure was measured under is
# always stated.
#
# Environment:
#   BUILD_DIR=build            where seminar-relay is
#   RELAY_BIN=BUILD_DIR/seminar-relay
#   LOAD_BIN=BUILD_DIR/llhls-load   the load client (built if missing)
#   BENCH_VIEWERS="1000 3000"
#   BENCH_SECONDS=20           measured seconds per case (after BENCH_RAMP)
#   BENCH_RAMP=5               seconds over which a case's viewers start
#   BENCH_PROCS=2              load-client processes
#   BENCH_LOAD_NICE=0          their nice value (the servers run at 0)
#   SERVER_CPUS=""             taskset CPU list of the relay and Varnish ("": no pinning)
#   CLIENT_CPUS=""             taskset CPU list of the load client and probes
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RELAY_BIN=${RELAY_BIN:-$BUILD_DIR/seminar-relay}
BENCH_VIEWERS=${BENCH_VIEWERS:-"1000 3000"}
BENCH_SECONDS=${BENCH_SECONDS:-20}
BENCH_RAMP=${BENCH_RAMP:-5}
BENCH_PROCS=${BENCH_PROCS:-2}
BENCH_LOAD_NICE=${BENCH_LOAD_NICE:-0}
cpus=$(nproc)
SERVER_CPUS=${SERVER_CPUS:-}
CLIENT_CPUS=${CLIENT_CPUS:-}

for tool in varnishd varnishncsa taskset; do
  command -v "$tool" >/dev/null || { echo "bench-scale: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
/usr/bin/python3 -c "import aiohttp" 2>/dev/null || { echo "bench-scale: python3-aiohttp is missing (scripts/setup.sh)" >&2; exit 1; }
[ -x "$RELAY_BIN" ] || { echo "bench-scale: $RELAY_BIN not built (scripts/build.sh)" >&2; exit 1; }
LOAD_BIN=${LOAD_BIN:-$BUILD_DIR/llhls-load}
if [ ! -x "$LOAD_BIN" ]; then
  cmake --build "$BUILD_DIR" --target llhls-load >/dev/null || { echo "bench-scale: building llhls-load failed" >&2; exit 1; }
fi

echo "bench-scale: relay and Varnish on CPUs '${SERVER_CPUS:-any}', load client on CPUs '${CLIENT_CPUS:-any}'" \
     "($cpus CPUs), $BENCH_PROCS client processes"
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 "$ROOT/bench/scale.py" --binary "$RELAY_BIN" --source-dir "$ROOT" --load-client "$LOAD_BIN" \
  --viewers "$BENCH_VIEWERS" --seconds "$BENCH_SECONDS" --ramp "$BENCH_RAMP" --procs "$BENCH_PROCS" --load-nice "$BENCH_LOAD_NICE" \
  --server-cpus "$SERVER_CPUS" --client-cpus "$CLIENT_CPUS"
