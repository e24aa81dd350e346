#!/usr/bin/env bash
# Benchmark (not a test): Q&A fan-out to many live pages, and ask throughput,
# on one relay with SQLite or on several relays sharing one PostgreSQL.
#
#   scripts/bench-qa.sh                                   # one relay, SQLite
#   scripts/bench-qa.sh --instances 3 --database postgresql --subscribers 10000
#
# build/seminar-relay must exist (scripts/build.sh); bench/qa_load.cpp is built
# on demand (the qa-load target). Every case starts its relays afresh on a free
# loopback port each, on a fresh Q&A database, as Q&A-only relays
# (ingest.source = "push:": they wait for a hall push and encode nothing;
# --video gives the first one the old light ladder instead).
#
# Fan-out: BENCH_SUBSCRIBERS WebSocket subscribers connect to the current room,
# dealt round-robin over the relays, and a moderator on the first relay approves
# and then stages each of BENCH_QUESTIONS prepared questions, one action every
# BENCH_INTERVAL_MS. For every event and subscriber qa-load measures the time
# from the moderator's 2xx answer to the subscriber's receipt (an event that
# arrives before the moderator's own answer counts as 0), and counts events a
# subscriber never received (lost) or received twice. It prints p50/p99/max
# (also from the moderator's request: a relay that fans out to its own
# subscribers before it answers delays its 2xx by as much), the
# relays' CPU per delivery, and the load generator's share of the CPU used (it
# runs on the same machine and reads all subscribers on one thread).
#
# Asks: BENCH_ASK_CLIENTS connections (dealt over the relays) ask as 256
# attendees for BENCH_ASK_SECONDS, each ask with its own Idempotency-Key; the
# per-attendee and per-network limits are lifted so the database is the limit.
# Prints the questions accepted (201) per second.
#
# With --database postgresql the script runs itself under
# tests/integration/pg_cluster.py (a temporary cluster as the `postgres` user,
# stopped on exit) and measures, in the same run: fan-out over N relays and over
# one, asks on one relay and on N, and the single-relay SQLite figures for
# comparison (--no-compare leaves those out).
#
# Options (each also an environment variable, which the option overrides):
#   --instances N        BENCH_INSTANCES=1          relays sharing the Q&A (PostgreSQL only when > 1)
#   --database D         BENCH_DATABASE=sqlite      sqlite or postgresql
#   --subscribers N      BENCH_SUBSCRIBERS=5000     WebSocket subscribers, over all relays
#   --questions N        BENCH_QUESTIONS=100        questions approved and staged (two actions each)
#   --interval-ms N      BENCH_INTERVAL_MS=100      pause between the moderator's actions (start to start)
#   --ask-seconds N      BENCH_ASK_SECONDS=10       length of each ask case; 0 skips them
#   --ask-clients N      BENCH_ASK_CLIENTS=16       connections asking at once
#   --no-compare                                    PostgreSQL only, without the SQLite comparison
#   --video                                         the first relay encodes a light ladder
#   BUILD_DIR=build          where seminar-relay is and qa-load is built
#   RELAY_BIN, RELAY_CONFIG  the relay binary and config (BUILD_DIR/seminar-relay, config/relay.toml)
#   RELAY_ARGS               extra relay arguments, e.g. "--set edge.threads=4"
# Exits 0 when nothing was lost, doubled or refused in any case.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_INSTANCES=${BENCH_INSTANCES:-1}
BENCH_DATABASE=${BENCH_DATABASE:-sqlite}
BENCH_SUBSCRIBERS=${BENCH_SUBSCRIBERS:-5000}
BENCH_QUESTIONS=${BENCH_QUESTIONS:-100}
BENCH_INTERVAL_MS=${BENCH_INTERVAL_MS:-100}
BENCH_ASK_SECONDS=${BENCH_ASK_SECONDS:-10}
BENCH_ASK_CLIENTS=${BENCH_ASK_CLIENTS:-16}
BENCH_COMPARE=${BENCH_COMPARE:-1}
BENCH_VIDEO=${BENCH_VIDEO:-0}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RELAY_BIN=${RELAY_BIN:-$BUILD_DIR/seminar-relay}
RELAY_CONFIG=${RELAY_CONFIG:-$ROOT/config/relay.toml}
RELAY_ARGS=${RELAY_ARGS:-}
PG_CLUSTER=$ROOT/tests/integration/pg_cluster.py
# Debian's python3: pg_cluster.py needs its psycopg2.
SYSTEM_PYTHON=/usr/bin/python3
PG_BIN=${RELAY_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}

die() { echo "bench-qa: error: $*" >&2; exit 1; }
note() { echo "bench-qa: $*" >&2; }

original_args=("$@")
while (($#)); do
  case $1 in
    --instances | --database | --subscribers | --questions | --interval-ms | --ask-seconds | --ask-clients)
      (($# >= 2)) || die "$1 needs a value" ;;&
    --instances) BENCH_INSTANCES=${2:-}; shift 2 ;;
    --database) BENCH_DATABASE=${2:-}; shift 2 ;;
    --subscribers) BENCH_SUBSCRIBERS=${2:-}; shift 2 ;;
    --questions) BENCH_QUESTIONS=${2:-}; shift 2 ;;
    --interval-ms) BENCH_INTERVAL_MS=${2:-}; shift 2 ;;
    --ask-seconds) BENCH_ASK_SECONDS=${2:-}; shift 2 ;;
    --ask-clients) BENCH_ASK_CLIENTS=${2:-}; shift 2 ;;
    --no-compare) BENCH_COMPARE=0; shift ;;
    --video) BENCH_VIDEO=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

whole() { [[ $2 =~ ^[0-9]+$ && $2 -ge $3 ]] || die "$1 must be a whole number >= $3, not '$2'"; }
whole "--instances" "$BENCH_INSTANCES" 1
whole "--subscribers" "$BENCH_SUBSCRIBERS" 1
whole "--questions" "$BENCH_QUESTIONS" 1
whole "--interval-ms" "$BENCH_INTERVAL_MS" 0
whole "--ask-seconds" "$BENCH_ASK_SECONDS" 0
whole "--ask-clients" "$BENCH_ASK_CLIENTS" 1
case $BENCH_DATABASE in
  sqlite) ((BENCH_INSTANCES == 1)) || die "several instances share the Q&A only on PostgreSQL: add --database postgresql" ;;
  postgresql) ;;
  *) die "--database is sqlite or postgresql, not '$BENCH_DATABASE'" ;;
esac

for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done
[[ -x $RELAY_BIN ]] || die "$RELAY_BIN not found; build it first (scripts/build.sh)"
if [[ $BENCH_DATABASE == postgresql ]]; then
  [[ -x $PG_BIN/postgres && -x $PG_BIN/initdb ]] || die "PostgreSQL 15 is not installed in $PG_BIN (apt-get install postgresql)"
  [[ -f $PG_CLUSTER ]] || die "$PG_CLUSTER is missing"
  if ! [[ -x $SYSTEM_PYTHON ]] || ! "$SYSTEM_PYTHON" -c 'import psycopg2' 2>/dev/null; then
    die "$SYSTEM_PYTHON with psycopg2 is needed to run PostgreSQL (apt-get install python3-psycopg2)"
  fi
  id postgres >/dev/null 2>&1 || die "the unprivileged 'postgres' user is missing (it comes with Debian's postgresql package)"
  command -v psql >/dev/null || die "'psql' is not installed (apt-get install postgresql-client)"
fi

# PostgreSQL: run again as the child of a temporary cluster, which pg_cluster.py
# stops whenever this script ends (Ctrl-C is passed on to it first).
if [[ $BENCH_DATABASE == postgresql && -z ${BENCH_IN_CLUSTER:-} ]]; then
  note "starting a temporary PostgreSQL cluster"
  BENCH_IN_CLUSTER=1 exec "$SYSTEM_PYTHON" "$PG_CLUSTER" run -- "${BASH_SOURCE[0]}" "${original_args[@]}"
fi

cmake --build "$BUILD_DIR" --target qa-load >/dev/null || die "cannot build the qa-load target in $BUILD_DIR"
LOAD_BIN=$BUILD_DIR/qa-load

# Each subscriber is one socket on both sides (every relay and qa-load get this
# limit), plus the relays' own files.
wanted=$((BENCH_SUBSCRIBERS + 1024))
hard=$(ulimit -Hn)
[[ $hard == unlimited || $hard -ge $wanted ]] || die "the open-file hard limit ($hard) is below $wanted; raise it (limits.conf) or lower --subscribers"
ulimit -n "$wanted"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-qa.XXXXXX")
RELAY_PIDS=()
RELAY_PORTS=()
stop_relays() {
  local pid
  for pid in "${RELAY_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${RELAY_PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  RELAY_PIDS=()
  RELAY_PORTS=()
}
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  stop_relays
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

MODERATOR=$(openssl rand -hex 24)
SPEAKER=$(openssl rand -hex 24)
PUSH_TOKEN=$(openssl rand -hex 24)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The postmaster (its backends are counted with it): the lock file PostgreSQL
# keeps beside its socket names it on the first line.
DATABASE_PID=""
if [[ $BENCH_DATABASE == postgresql ]]; then
  [[ -n ${RELAY_TEST_POSTGRES:-} && -n ${RELAY_TEST_POSTGRES_SOCKET:-} ]] || die "pg_cluster.py did not say where the cluster is"
  PG_PORT=${RELAY_TEST_POSTGRES##*:}
  PG_PORT=${PG_PORT%%/*}
  DATABASE_PID=$(head -1 "$RELAY_TEST_POSTGRES_SOCKET/.s.PGSQL.$PG_PORT.lock" 2>/dev/null) || true
  [[ $DATABASE_PID =~ ^[0-9]+$ ]] || die "cannot find the postmaster's process id"
fi

# A fresh database for one case: its URI (no password: that is in the file).
fresh_database() {
  local name=$1
  if [[ $2 == sqlite ]]; then
    echo sqlite
    return
  fi
  psql -X -q -h "$RELAY_TEST_POSTGRES_SOCKET" -p "$PG_PORT" -U relay -d postgres \
    -c "CREATE DATABASE \"$name\"" >/dev/null || die "cannot create database $name"
  echo "${RELAY_TEST_POSTGRES%/*}/$name"
}

# start_relays CASE DATABASE N: N relays on the database (a URI, or sqlite).
start_relays() {
  local name=$1 database=$2 count=$3 i port dir
  for i in $(seq "$count"); do
    port=$(free_port)
    dir=$WORK/$name-$i
    mkdir -p "$dir"
    local args=(--config "$RELAY_CONFIG" --set "edge.listen=127.0.0.1:$port"
      --set "qa.data_dir=$dir/data" --set "qa.database=$database"
      --set "qa.moderator_tokens=[\"$MODERATOR\"]" --set "qa.speaker_tokens=[\"$SPEAKER\"]"
      --set "edge.max_connections_per_ip=$((BENCH_SUBSCRIBERS + 64))"
      --set "edge.max_connections=$((BENCH_SUBSCRIBERS > 8976 ? BENCH_SUBSCRIBERS + 1024 : 10000))"
      # The asks measure the database, not the rate limits.
      --set qa.questions_per_minute=10000 --set qa.question_burst=10000
      --set qa.attendees_per_minute=100000 --set qa.attendee_burst=100000
      --set qa.identities_per_minute_global=1000000 --set qa.max_questions_per_room=1000000)
    if [[ $database != sqlite ]]; then
      args+=(--set "qa.database_password_file=$RELAY_TEST_POSTGRES_PASSWORD_FILE")
    fi
    if ((BENCH_VIDEO && i == 1)); then
      args+=(--set ingest.width=640 --set ingest.height=360 --set encoder.preset=ultrafast
        --set 'encoder.renditions=[{name="180p",width=320,height=180,bitrate_kbps=200,profile="baseline"}]')
    else
      args+=(--set 'ingest.source=push:' --set "ingest.push_tokens=[\"$PUSH_TOKEN\"]")
    fi
    # shellcheck disable=SC2086 # RELAY_ARGS is split on purpose
    "$RELAY_BIN" "${args[@]}" $RELAY_ARGS >"$dir/relay.log" 2>&1 &
    RELAY_PIDS+=($!)
    RELAY_PORTS+=("$port")
  done
  for i in $(seq 0 $((count - 1))); do
    port=${RELAY_PORTS[$i]}
    for _ in $(seq 100); do
      curl -fsS "http://127.0.0.1:$port/api/qa/rooms" >/dev/null 2>&1 && break
      kill -0 "${RELAY_PIDS[$i]}" 2>/dev/null || { tail -5 "$WORK/$name-$((i + 1))/relay.log" >&2; die "relay $((i + 1)) of $name exited"; }
      sleep 0.2
    done
    curl -fsS "http://127.0.0.1:$port/api/qa/rooms" >/dev/null || die "relay $((i + 1)) of $name: the Q&A API did not answer within 20 s"
  done
}

relay_list() {
  local port list=""
  for port in "${RELAY_PORTS[@]}"; do list+=${list:+,}127.0.0.1:$port; done
  echo "$list"
}
pid_list() { local IFS=,; echo "${RELAY_PIDS[*]}"; }

RESULTS=$WORK/results
: >"$RESULTS"
STATUS=0

# run_case LABEL MODE DATABASE N: fresh database and relays, one qa-load run.
run_case() {
  local label=$1 mode=$2 engine=$3 count=$4 name database status=0 out
  name=bench_${mode}_${engine}_${count}
  database=$(fresh_database "$name" "$engine")
  note "$label: starting $count relay(s)"
  start_relays "$name" "$database" "$count"
  local common=(--relays "$(relay_list)" --moderator-token "$MODERATOR" --relay-pids "$(pid_list)")
  if [[ -n $DATABASE_PID ]]; then common+=(--database-pid "$DATABASE_PID"); fi
  out=$WORK/$name.out
  echo
  echo "== $label"
  if [[ $mode == fanout ]]; then
    "$LOAD_BIN" "${common[@]}" --mode fanout --subscriber-token "$SPEAKER" --subscribers "$BENCH_SUBSCRIBERS" \
      --questions "$BENCH_QUESTIONS" --interval-ms "$BENCH_INTERVAL_MS" | tee "$out" || status=$?
    local i closes=0 n
    for i in $(seq "$count"); do
      # grep -c exits 1 when it counts nothing, which is the good case.
      n=$(grep -c "ws_queue_limit" "$WORK/$name-$i/relay.log" || true)
      closes=$((closes + n))
    done
    echo "slow-client closes in the relays' logs: $closes"
  else
    "$LOAD_BIN" "${common[@]}" --mode ask --attendees 256 --clients "$BENCH_ASK_CLIENTS" \
      --seconds "$BENCH_ASK_SECONDS" | tee "$out" || status=$?
  fi
  local rss="" pid
  for pid in "${RELAY_PIDS[@]}"; do rss+="${rss:+ }$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "?")"; done
  echo "relays' peak RSS (kB): $rss"
  grep '^result ' "$out" | sed "s/^result /label=${label// /_} /" >>"$RESULTS" || true
  if ((status != 0)); then
    note "$label: qa-load reported a failure (status $status)"
    STATUS=1
  fi
  stop_relays
}

note "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run (other work shares it)"
note "$BENCH_SUBSCRIBERS subscribers, $BENCH_QUESTIONS questions approved and staged, one action every ${BENCH_INTERVAL_MS} ms"
if [[ $BENCH_DATABASE == postgresql ]]; then
  run_case "fan-out, PostgreSQL, $BENCH_INSTANCES relay(s)" fanout postgresql "$BENCH_INSTANCES"
  if ((BENCH_INSTANCES > 1)); then run_case "fan-out, PostgreSQL, 1 relay" fanout postgresql 1; fi
  if ((BENCH_ASK_SECONDS > 0)); then
    run_case "asks, PostgreSQL, 1 relay" ask postgresql 1
    if ((BENCH_INSTANCES > 1)); then
      run_case "asks, PostgreSQL, $BENCH_INSTANCES relays" ask postgresql "$BENCH_INSTANCES"
    fi
  fi
fi
if [[ $BENCH_DATABASE == sqlite || $BENCH_COMPARE == 1 ]]; then
  run_case "fan-out, SQLite, 1 relay" fanout sqlite 1
  if ((BENCH_ASK_SECONDS > 0)); then run_case "asks, SQLite, 1 relay" ask sqlite 1; fi
fi

# The figures side by side. CPU per delivery is the relays' CPU over the
# moderator's actions divided by the deliveries; the load generator's share is
# of all CPU the relays, the database and qa-load used in that window.
echo
echo "== summary ($(nproc) cores shared by the relays, the database and the load generator)"
awk '
  function field(name,   i, kv) {
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] }
    return ""
  }
  function label(prefix,   text) { text = field("label"); gsub(/_/, " ", text); sub(prefix, "", text); return text }
  field("mode") == "fanout" {
    d = field("deliveries"); total = field("relay_cpu_ms") + field("database_cpu_ms") + field("load_cpu_ms")
    per = 0; if (d > 0) per = field("relay_cpu_ms") * 1000 / d
    db = 0; if (d > 0) db = field("database_cpu_ms") * 1000 / d
    share = 0; if (total > 0) share = field("load_cpu_ms") * 100 / total
    fan[++fans] = sprintf("%-24s %6s %6s %6s | %6s %6s %6s | %4s %7s %8.1f %6.1f %7.0f%%", label("^fan-out, "),
      field("p50_ms"), field("p99_ms"), field("max_ms"), field("request_p50_ms"), field("request_p99_ms"),
      field("request_max_ms"), field("lost"), field("doubled"), per, db, share)
  }
  field("mode") == "ask" {
    ask[++asks] = sprintf("%-26s %11s %7s %7s", label("^asks, "), field("per_s"), field("p50_ms"), field("p99_ms"))
  }
  END {
    if (fans) {
      printf "%-24s %-20s | %-20s |\n", "fan-out, ms", "from the 2xx", "from the request"
      printf "%-24s %6s %6s %6s | %6s %6s %6s | %4s %7s %8s %6s %8s\n", "", "p50", "p99", "max", "p50", "p99", "max",
        "lost", "doubled", "relay us", "db us", "qa-load"
    }
    for (i = 1; i <= fans; i++) print fan[i]
    if (fans) print "(relay us, db us: CPU per delivery; qa-load: its share of all CPU used in the window)"
    if (asks) printf "\n%-26s %11s %7s %7s\n", "asks", "accepted/s", "p50 ms", "p99 ms"
    for (i = 1; i <= asks; i++) print ask[i]
  }
' "$RESULTS"
echo "targets: fan-out p99 <= 50 ms for 10,000 subscribers on one relay, <= 100 ms over three; 0 lost"
exit "$STATUS"
