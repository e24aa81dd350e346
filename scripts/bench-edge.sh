#!/usr/bin/env bash
# Benchmark (not a test): the HTTP edge against nginx, serving the same bytes.
#
#   scripts/bench-edge.sh          # BUILD_DIR/seminar-relay must exist (scripts/build.sh)
#
# Installs what it needs from Debian when missing (nginx-light, wrk, nghttp2-client
# for h2load), then, all on loopback:
#
# 1. Media. The relay ingests a 12 s file of noise (made here with gst-launch, a
#    picture no encoder can shrink), 320x180 at 10 fps, one rendition at about
#    4 Mbit/s, so each 2 s segment is about 1 MB. The file does not loop: when it
#    ends the relay shows its slate, which costs its encoder next to nothing
#    (the idle CPU is printed). Playlist cases run on a relay with the default
#    live window, so its LL-HLS playlist stays at its usual size (~1.5-2 KB);
#    segment cases on one with hls.dvr_window_s, which keeps the noise segments
#    in the store. The segment closest to 1 MiB is the one benchmarked. nginx
#    serves the very same bytes (fetched from the relay and compared) from a
#    tmpfs directory, and a copy of the relay's media playlist, plain and gzip'd
#    as the relay sends it, refreshed before each playlist case (the relay's own
#    changes with every part).
# 2. Memory. On the fresh playlist relay: RSS before and after BENCH_IDLE
#    keep-alive connections that each made one request, then BENCH_BLOCKED more
#    connections whose blocking playlist reload (_HLS_msn two segments ahead) is
#    held at the same time; all of those must be answered 200. The same idle
#    figure for a fresh nginx. The client is bench/edge_conns.py (asyncio).
#    Kernel socket buffers are not in RSS.
# 3. Throughput. The relay and nginx (worker_processes = edge.threads, sendfile,
#    tcp_nopush, open_file_cache, access_log off, high keepalive_requests): wrk
#    for BENCH_DURATION seconds at each of BENCH_CONNECTIONS, for the playlist
#    without and with Accept-Encoding: gzip and for the segment. Prints
#    requests/s, MB/s (10^6 bytes, headers included), p99 latency (from the
#    request being sent, so a connection the server is slow to accept counts),
#    the server's CPU time per request, and the ratios relay/nginx (requests/s:
#    higher is better; p99: lower is better).
# 4. TLS, when the relay's config has edge.tls_listen: the same cases with
#    h2load (one request per connection at a time, like wrk), over HTTP/2 when
#    the relay's TLS port negotiates h2, else over HTTP/1.1 on both servers (said
#    in the output); nginx uses the same self-signed certificate. Skipped when
#    the relay has no TLS.
#
# wrk, the servers and the relay's idle encoder share this machine's cores, so
# figures vary from run to run: each case runs BENCH_REPEAT times and the table
# shows medians.
#
# Environment:
#   BUILD_DIR=build               where seminar-relay is
#   RELAY_BIN=BUILD_DIR/seminar-relay
#   RELAY_ARGS                    extra relay arguments, e.g. "--set edge.some_limit=..."; the
#                                 relay otherwise runs on a config of its own (WORK/relay.toml),
#                                 all defaults but the settings this benchmark is about
#   EDGE_THREADS=2                edge.threads, and nginx worker_processes
#   WRK_THREADS=2                 wrk's (and h2load's) threads
#   BENCH_DURATION=10             seconds per wrk run
#   BENCH_REPEAT=3                runs per case and server, relay and nginx taking turns at
#                                 going first; the table shows each figure's median
#   BENCH_CONNECTIONS="64 256 1024"
#   BENCH_CASES="playlist playlist-gzip segment"
#   BENCH_IDLE=5000               idle keep-alive connections for the memory figure (0: skip)
#   BENCH_BLOCKED=1000            blocked playlist requests held on top of them (0: skip)
#   BENCH_TLS=1                   0 skips the TLS cases
#   BENCH_TOOLS="wrk h2load"      which throughput runs: wrk (plain HTTP/1.1), h2load (TLS)
#   BENCH_KEEP=0                  1 keeps the work directory (logs, configs) for a look afterwards
#   BENCH_FAST_PATH=on            on: the relay as it runs in production; off: with
#                                 SEMINAR_RELAY_FAST_PATH=0 (docs/performance.md, "Fast path");
#                                 both: two relays side by side, each with its own table
#                                 against the same nginx runs, and a table of on/off ratios
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
RELAY_BIN=${RELAY_BIN:-$BUILD_DIR/seminar-relay}
RELAY_ARGS=${RELAY_ARGS:-}
EDGE_THREADS=${EDGE_THREADS:-2}
WRK_THREADS=${WRK_THREADS:-2}
BENCH_DURATION=${BENCH_DURATION:-10}
BENCH_REPEAT=${BENCH_REPEAT:-3}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-"64 256 1024"}
BENCH_CASES=${BENCH_CASES:-"playlist playlist-gzip segment"}
BENCH_IDLE=${BENCH_IDLE:-5000}
BENCH_BLOCKED=${BENCH_BLOCKED:-1000}
BENCH_TLS=${BENCH_TLS:-1}
BENCH_TOOLS=${BENCH_TOOLS:-"wrk h2load"}
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_FAST_PATH=${BENCH_FAST_PATH:-on}

RENDITION=180p
SEGMENT_TARGET=1048576  # bytes: the segment closest to this is benchmarked

die() { echo "bench-edge: error: $*" >&2; exit 1; }
note() { echo "bench-edge: $*" >&2; }

# --- tools -------------------------------------------------------------------
install_missing() {
  local missing=() pair
  for pair in nginx-light:nginx wrk:wrk nghttp2-client:h2load curl:curl openssl:openssl python3:python3 \
    gstreamer1.0-tools:gst-launch-1.0; do
    command -v "${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
  done
  ((${#missing[@]})) || return 0
  note "installing ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_missing
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || die "nginx is not installed"
[[ -x $RELAY_BIN ]] || die "$RELAY_BIN not found; build it first (scripts/build.sh) or set BUILD_DIR"
for n in $EDGE_THREADS $WRK_THREADS $BENCH_DURATION $BENCH_REPEAT $BENCH_IDLE $BENCH_BLOCKED $BENCH_CONNECTIONS; do
  [[ $n =~ ^[0-9]+$ ]] || die "'$n' is not a whole number (see the Environment section of this script)"
done
((BENCH_REPEAT >= 1)) || die "BENCH_REPEAT must be at least 1"
# The relays benchmarked: "relay" (fast path on), "relay-off" (fast path off).
case $BENCH_FAST_PATH in
  on) VARIANTS=(relay) ;;
  off) VARIANTS=(relay-off) ;;
  both) VARIANTS=(relay relay-off) ;;
  *) die "BENCH_FAST_PATH must be on, off or both, not '$BENCH_FAST_PATH'" ;;
esac

# Every connection is a socket on both sides, and the servers' own files.
max_connections=$((BENCH_IDLE + BENCH_BLOCKED))
for c in $BENCH_CONNECTIONS; do ((c > max_connections)) && max_connections=$c; done
wanted=$((2 * max_connections + 4096))
hard=$(ulimit -Hn)
[[ $hard == unlimited || $hard -ge $wanted ]] ||
  die "the open-file hard limit ($hard) is below $wanted; raise it or lower BENCH_IDLE/BENCH_BLOCKED"
ulimit -n "$wanted"

# --- work directory on tmpfs -----------------------------------------------------
if [[ $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]]; then
  WORK=$(mktemp -d /dev/shm/bench-edge.XXXXXX)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-edge.XXXXXX")
  note "/dev/shm is not a tmpfs; nginx serves from $WORK"
fi
chmod 755 "$WORK"  # nginx workers may run as another user
WWW=$WORK/www
mkdir -p "$WWW/live/$RENDITION"

RELAY_PID="" NGINX_PID=""
declare -A VARIANT_PID=() VARIANT_PORT=() VARIANT_TLS_PORT=()
stop_pid() {
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local variant
  for variant in "${!VARIANT_PID[@]}"; do stop_pid "${VARIANT_PID[$variant]}"; done
  stop_pid "$RELAY_PID"
  stop_pid "$NGINX_PID"
  if [[ $BENCH_KEEP == 1 ]]; then note "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- the input: noise, so that a 2 s segment is about 1 MB ------------------------
gst-launch-1.0 -q -e \
  videotestsrc pattern=snow num-buffers=120 ! video/x-raw,width=320,height=180,framerate=10/1 ! \
  x264enc bitrate=8000 speed-preset=ultrafast key-int-max=20 ! h264parse ! mp4mux name=mux ! \
  filesink location="$WORK/noise.mp4" \
  audiotestsrc num-buffers=563 ! audio/x-raw,rate=48000,channels=2 ! voaacenc ! aacparse ! mux. \
  >"$WORK/gst.log" 2>&1 || { cat "$WORK/gst.log" >&2; die "cannot make the input file"; }

# The relay's own config: defaults, but for what this benchmark sets (the
# operator's config/relay.toml may hold tokens, limits or a heavy ladder).
RELAY_CONFIG=$WORK/relay.toml
cat >"$RELAY_CONFIG" <<EOF
[edge]
threads = $EDGE_THREADS
# Idle connections are the point of the memory figure; they must not time out.
read_timeout_s = 600
web_dir = "$ROOT/web"
node_modules_dir = "$ROOT/node_modules"

[ingest]
source = "file://$WORK/noise.mp4"
loop = false
framerate = 10
pipelines_dir = "$ROOT/pipelines"

[encoder]
preset = "ultrafast"

[[encoder.renditions]]
name = "$RENDITION"
width = 320
height = 180
bitrate_kbps = 3900
profile = "baseline"

[log]
level = "warn"
EOF

# Limits of newer relays that would cut the benchmark short, lifted when this relay has them.
RELAY_LIMITS=()
for setting in edge.idle_timeout_s=3600 edge.header_timeout_s=600 "edge.max_connections=$((max_connections + 64))" \
  "edge.max_connections_per_ip=$((max_connections + 64))"; do
  if "$RELAY_BIN" --config "$RELAY_CONFIG" --set "$setting" --check-config >/dev/null 2>&1; then
    RELAY_LIMITS+=(--set "$setting")
  fi
done

# --- TLS, when the relay has it ------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1 || die "openssl cannot make a certificate"
TLS=0
if [[ $BENCH_TLS != 0 ]] && "$RELAY_BIN" --config "$RELAY_CONFIG" --set edge.tls_listen=127.0.0.1:0 --set "edge.tls_cert_file=$WORK/cert.pem" \
  --set "edge.tls_key_file=$WORK/key.pem" --check-config >/dev/null 2>&1; then
  TLS=1
fi


# --- the relay -------------------------------------------------------------------------
# start_relay NAME VARIANT [--set ...]: a fresh relay, ready when its input has ended.
RELAY_PORT="" RELAY_TLS_PORT=""
TECH_TOKEN=bench-technician-0123456789abcdef  # /api/health's detail is the technician's
start_relay() {
  local name=$1 variant=$2 tls_args=() fast_path=1
  shift 2
  [[ $variant == relay-off ]] && fast_path=0
  RELAY_PORT=$(free_port)
  if ((TLS)); then
    RELAY_TLS_PORT=$(free_port)
    tls_args=(--set "edge.tls_listen=127.0.0.1:$RELAY_TLS_PORT" --set "edge.tls_cert_file=$WORK/cert.pem"
      --set "edge.tls_key_file=$WORK/key.pem")
    # The plain cases run beside TLS: the plain port serves rather than redirects (where the binary knows the key).
    if "$RELAY_BIN" --config "$RELAY_CONFIG" --set edge.plain_http=serve --check-config >/dev/null 2>&1; then
      tls_args+=(--set edge.plain_http=serve)
    fi
  fi
  # shellcheck disable=SC2086 # RELAY_ARGS is split on purpose
  SEMINAR_RELAY_FAST_PATH=$fast_path "$RELAY_BIN" --config "$RELAY_CONFIG" --set "edge.listen=127.0.0.1:$RELAY_PORT" \
    "${tls_args[@]}" "${RELAY_LIMITS[@]}" --set "qa.data_dir=$WORK/data-$name" \
    --set "qa.technician_tokens=[\"$TECH_TOKEN\"]" "$@" $RELAY_ARGS \
    >"$WORK/relay-$name.log" 2>&1 &
  RELAY_PID=$!
  # Once the input has ended every noise segment is in the store, and from then
  # on the encoder only encodes the slate.
  local state=""
  for _ in $(seq 600); do
    kill -0 "$RELAY_PID" 2>/dev/null || { tail -20 "$WORK/relay-$name.log" >&2; die "the relay exited"; }
    state=$(curl -fsS -H "Authorization: Bearer $TECH_TOKEN" "http://127.0.0.1:$RELAY_PORT/api/health" 2>/dev/null |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["ingest"]["state"])' 2>/dev/null || true)
    [[ $state == ended ]] && break
    sleep 0.2
  done
  [[ $state == ended ]] || die "the relay's input did not end within 120 s (state '$state'); see $WORK/relay-$name.log"
  curl -fsS -o /dev/null "http://127.0.0.1:$RELAY_PORT/live/$RENDITION/index.m3u8" || die "no media playlist"
  VARIANT_PID[$variant]=$RELAY_PID VARIANT_PORT[$variant]=$RELAY_PORT VARIANT_TLS_PORT[$variant]=$RELAY_TLS_PORT
}
# start_relays NAME [--set ...]: one relay per variant, started together; RELAY_PID
# and its ports are then the first variant's (memory, playlist copies, segment choice).
start_relays() {
  local name=$1 variant
  shift
  for variant in "${VARIANTS[@]}"; do start_relay "$name-$variant" "$variant" "$@"; done
  RELAY_PID=${VARIANT_PID[${VARIANTS[0]}]} RELAY_PORT=${VARIANT_PORT[${VARIANTS[0]}]}
  RELAY_TLS_PORT=${VARIANT_TLS_PORT[${VARIANTS[0]}]}
}
stop_relays() {
  local variant
  for variant in "${VARIANTS[@]}"; do stop_pid "${VARIANT_PID[$variant]}"; done
  VARIANT_PID=()
  RELAY_PID=""
}

# CPU clock ticks (user + system) of processes, all their threads included.
cpu_ticks() {
  local total=0 pid f
  for pid in "$@"; do
    # utime and stime are fields 14 and 15; count them after the ")" that ends the
    # command name, which may itself hold spaces.
    read -r -a f <<<"$(sed 's/^.*) //' "/proc/$pid/stat")"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
TICKS=$(getconf CLK_TCK)

# --- nginx ---------------------------------------------------------------------------------
NGINX_PORT="" NGINX_TLS_PORT=""
start_nginx() {
  NGINX_PORT=$(free_port)
  NGINX_TLS_PORT=$(free_port)
  mkdir -p "$WORK/nginx/tmp"
  local user="" tls=""
  [[ $(id -u) -eq 0 ]] && user="user root;"
  ((TLS)) && tls="
  server {
    listen 127.0.0.1:$NGINX_TLS_PORT ssl http2;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    include $WORK/nginx/site.conf;
  }"
  # The relay's headers have their counterparts here, so both send about as much.
  cat >"$WORK/nginx/site.conf" <<EOF
    root $WWW;
    location /live/ {
      gzip_static on;
      add_header Cache-Control "public, max-age=1";
      add_header X-Content-Type-Options nosniff;
      add_header Access-Control-Allow-Origin *;
    }
EOF
  cat >"$WORK/nginx/nginx.conf" <<EOF
$user
worker_processes $EDGE_THREADS;
worker_rlimit_nofile $wanted;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections $wanted; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 3600s;
  open_file_cache max=64 inactive=3600s;
  open_file_cache_valid 3600s;
  client_body_temp_path $WORK/nginx/tmp/body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  types { application/vnd.apple.mpegurl m3u8; video/mp4 m4s mp4; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    include $WORK/nginx/site.conf;
  }$tls
}
EOF
  "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx/stderr.log" 2>&1 &
  NGINX_PID=$!
  for _ in $(seq 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$NGINX_PORT/live/$RENDITION/index.m3u8" 2>/dev/null && return 0
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WORK/nginx/stderr.log" "$WORK/nginx/error.log" >&2 2>/dev/null || true
  die "nginx did not start"
}
nginx_pids() { echo "$NGINX_PID" "$(pgrep -P "$NGINX_PID" | tr '\n' ' ' || true)"; }

# The relay's current playlist, plain and gzip'd as the relay sends it, for nginx.
copy_playlist() {
  local dir=$WWW/live/$RENDITION url="http://127.0.0.1:$RELAY_PORT/live/$RENDITION/index.m3u8"
  curl -fsS -o "$dir/index.m3u8.new" "$url"
  curl -fsS -H 'Accept-Encoding: gzip' -o "$dir/index.m3u8.gz.new" "$url"
  mv "$dir/index.m3u8.new" "$dir/index.m3u8"
  mv "$dir/index.m3u8.gz.new" "$dir/index.m3u8.gz"
}

# --- load generators -------------------------------------------------------------------------
cat >"$WORK/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d bytes=%d duration_us=%d p99_us=%d errors=%d status_errors=%d\n",
    summary.requests, summary.bytes, summary.duration, latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
EOF

# One wrk run over plain HTTP/1.1; prints "requests/s MB/s p99_ms cpu_us_per_request errors".
run_wrk() {
  local port=$1 path=$2 conns=$3 gzip=$4 label=$5
  shift 5
  local headers=() out t0 t1 line
  [[ $gzip == 1 ]] && headers=(-H 'Accept-Encoding: gzip')
  t0=$(cpu_ticks "$@")
  out=$(wrk -t "$WRK_THREADS" -c "$conns" -d "${BENCH_DURATION}s" --timeout 30s "${headers[@]}" \
    -s "$WORK/report.lua" "http://127.0.0.1:$port$path" 2>&1) || { echo "$out" >&2; die "wrk failed ($label)"; }
  t1=$(cpu_ticks "$@")
  echo "$out" >"$WORK/wrk-$label.log"
  line=$(grep '^BENCH ' <<<"$out") || { echo "$out" >&2; die "no wrk summary ($label)"; }
  awk -v ticks=$((t1 - t0)) -v hz="$TICKS" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      s = v["duration_us"] / 1e6
      printf "%.0f %.1f %.2f %.1f %d\n", v["requests"] / s, v["bytes"] / s / 1e6, v["p99_us"] / 1000,
        (v["requests"] > 0 ? ticks / hz * 1e6 / v["requests"] : 0), v["errors"] + v["status_errors"]
    }' <<<"$line"
}

# One h2load run over TLS (HTTP/2, or HTTP/1.1 with H2LOAD_H1=1); prints the same.
# h2load can wait forever for a connection that never completes, hence the timeout.
H2LOAD_H1=0
run_h2load() {
  local port=$1 path=$2 conns=$3 gzip=$4 label=$5
  shift 5
  local args=() out t0 t1 log=$WORK/h2load-$label.tsv
  [[ $gzip == 1 ]] && args+=(-H 'accept-encoding: gzip')
  [[ $H2LOAD_H1 == 1 ]] && args+=(--h1)
  t0=$(cpu_ticks "$@")
  out=$(timeout $((BENCH_DURATION + 60)) h2load -t "$WRK_THREADS" -c "$conns" -m 1 -D "$BENCH_DURATION" \
    "${args[@]}" --log-file="$log" "https://127.0.0.1:$port$path" 2>&1) || {
    echo "$out" >"$WORK/h2load-$label.log"
    note "h2load did not finish ($label); see $WORK/h2load-$label.log"
    echo "0 0 0 0 -1"
    return 0
  }
  t1=$(cpu_ticks "$@")
  echo "$out" >"$WORK/h2load-$label.log"
  # The log has a line per request: its start (µs since the epoch), status, and time taken (µs).
  python3 - "$log" "$BENCH_DURATION" "$((t1 - t0))" "$TICKS" "$out" <<'EOF'
import re, sys
log, duration, ticks, hz, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
times, bad = [], 0
for line in open(log):
    fields = line.split()
    if len(fields) >= 3:
        times.append(int(fields[2]))
        bad += fields[1] != "200"
times.sort()
p99 = times[min(len(times) - 1, int(0.99 * len(times)))] / 1000 if times else 0
total = re.search(r"traffic: .*?\((\d+)\) total", out)
failed = re.search(r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
errors = bad + (sum(int(x) for x in failed.groups()) if failed else 0)
n = len(times)
print(f"{n / duration:.0f} {(int(total.group(1)) if total else 0) / duration / 1e6:.1f} {p99:.2f}"
      f" {ticks / hz * 1e6 / n if n else 0:.1f} {errors}")
EOF
}

# median FIELD LINE...: the median of the FIELD-th number of the lines (the lower
# middle one for an even count); a line whose last field is negative (a run that
# did not finish) is left out unless all are.
median() {
  local field=$1
  shift
  printf '%s\n' "$@" | awk -v f="$field" '$NF >= 0 { print $f }' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}

# error_total LINE...: the errors of all runs that finished, or -1 when none did.
error_total() { printf '%s\n' "$@" | awk '$NF >= 0 { e += $NF; ok = 1 } END { print ok ? e : -1 }'; }

# run_cases TOOL CASE...: every case at every connection count against each relay
# variant and nginx, BENCH_REPEAT times, taking turns at going first; appends a
# row of medians per variant, case and count to ROWS_<TOOL>.
ROWS_wrk=() ROWS_h2load=()
run_cases() {
  local tool=$1 bench_case conns path gzip nginx_port size round server variant
  shift
  if [[ $tool == wrk ]]; then nginx_port=$NGINX_PORT; else nginx_port=$NGINX_TLS_PORT; fi
  for bench_case in "$@"; do
    case $bench_case in
      playlist) path=$PLAYLIST_PATH gzip=0 ;;
      playlist-gzip) path=$PLAYLIST_PATH gzip=1 ;;
      segment) path=$SEGMENT_PATH gzip=0 ;;
    esac
    for conns in $BENCH_CONNECTIONS; do
      local -A runs=()
      local line servers=("${VARIANTS[@]}" nginx)
      for ((round = 1; round <= BENCH_REPEAT; round++)); do
        [[ $bench_case == playlist* ]] && copy_playlist
        size=$(stat -c %s "$WWW$path$([[ $gzip == 1 ]] && echo .gz)")
        # Each round starts with the next server.
        local order=("${servers[@]:$(((round - 1) % ${#servers[@]}))}" "${servers[@]:0:$(((round - 1) % ${#servers[@]}))}")
        for server in "${order[@]}"; do
          note "$tool $bench_case ($size bytes), $conns connections, run $round of $BENCH_REPEAT: $server"
          if [[ $server == nginx ]]; then
            # shellcheck disable=SC2046 # one pid per word
            line=$("run_$tool" "$nginx_port" "$path" "$conns" "$gzip" "nginx-$bench_case-$conns-$round" $(nginx_pids))
          else
            local port=${VARIANT_PORT[$server]}
            [[ $tool == wrk ]] || port=${VARIANT_TLS_PORT[$server]}
            line=$("run_$tool" "$port" "$path" "$conns" "$gzip" "$server-$bench_case-$conns-$round" "${VARIANT_PID[$server]}")
          fi
          runs[$server]+="$line"$'\n'
          sleep 1
        done
      done
      local n=() i
      local -a nginx_runs relay_runs
      mapfile -t nginx_runs <<<"${runs[nginx]%$'\n'}"
      for i in 1 2 3 4; do n+=("$(median "$i" "${nginx_runs[@]}")"); done
      for variant in "${VARIANTS[@]}"; do
        local r=()
        mapfile -t relay_runs <<<"${runs[$variant]%$'\n'}"
        for i in 1 2 3 4; do r+=("$(median "$i" "${relay_runs[@]}")"); done
        eval "ROWS_$tool+=(\"$variant $bench_case $size $conns ${r[*]} $(error_total "${relay_runs[@]}") ${n[*]} $(error_total "${nginx_runs[@]}")\")"
      done
    done
  done
}

# wants_tool TOOL: whether BENCH_TOOLS names it.
wants_tool() { [[ " $BENCH_TOOLS " == *" $1 "* ]]; }

PLAYLIST_CASES=() SEGMENT_CASES=()
for bench_case in $BENCH_CASES; do
  case $bench_case in
    playlist | playlist-gzip) PLAYLIST_CASES+=("$bench_case") ;;
    segment) SEGMENT_CASES+=("$bench_case") ;;
    *) die "unknown case '$bench_case' in BENCH_CASES" ;;
  esac
done
PLAYLIST_PATH=/live/$RENDITION/index.m3u8
SEGMENT_PATH=""

# --- the playlist relay: memory, then playlists -----------------------------------------------
note "starting ${#VARIANTS[@]} relay(s): ${VARIANTS[*]} (ready when their 12 s input has ended)"
start_relays playlists
copy_playlist
t0=$(cpu_ticks "$RELAY_PID"); sleep 5; t1=$(cpu_ticks "$RELAY_PID")
relay_idle_cpu=$(awk -v t=$((t1 - t0)) -v hz="$TICKS" 'BEGIN { printf "%.1f", 100 * t / hz / 5 }')
TLS_PROTOCOL=""
if ((TLS)); then
  # Until the relay's TLS port negotiates h2 the TLS cases compare HTTPS with HTTP/1.1.
  TLS_PROTOCOL=$(curl -fsSk --http2 -o /dev/null -w '%{http_version}' \
    "https://127.0.0.1:$RELAY_TLS_PORT$PLAYLIST_PATH" 2>/dev/null || echo "?")
  [[ $TLS_PROTOCOL == 2 ]] || H2LOAD_H1=1
fi

MEMORY_LINES=()
if ((BENCH_IDLE > 0)); then
  note "memory: $BENCH_IDLE idle keep-alive connections, then $BENCH_BLOCKED blocked playlist requests on top"
  relay_json=$(python3 "$ROOT/bench/edge_conns.py" --port "$RELAY_PORT" --pid "$RELAY_PID" \
    --path "$PLAYLIST_PATH" --idle "$BENCH_IDLE" --blocked "$BENCH_BLOCKED" --blocked-path "$PLAYLIST_PATH" --token "$TECH_TOKEN") ||
    die "the relay memory measurement failed"
fi
start_nginx
if ((BENCH_IDLE > 0)); then
  nginx_json=$(python3 "$ROOT/bench/edge_conns.py" --port "$NGINX_PORT" --pid "$(nginx_pids | tr ' ' ,)" \
    --path "$PLAYLIST_PATH" --idle "$BENCH_IDLE") || die "the nginx memory measurement failed"
  mapfile -t MEMORY_LINES < <(python3 - "$relay_json" "$nginx_json" <<'EOF'
import json, sys
r, n = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def mib(kib): return f"{kib / 1024:.1f} MiB"
print(f"{r['idle']} idle keep-alive connections, each after one playlist request:")
for name, m in (("relay", r), ("nginx", n)):
    print(f"  {name}  RSS {mib(m['rss_kib_before'])} -> {mib(m['rss_kib_idle'])}:"
          f" {m['idle_kib_per_connection']:.1f} KiB per connection; closed by the server meanwhile: {m['idle_closed_by_server']}")
if "blocked" in r:
    answered = ", ".join(f"{k}: {v}" for k, v in sorted(r["blocked_statuses"].items()))
    per = r.get("held_kib_per_request")
    print(f"{r['blocked']} blocked playlist requests on new connections on top ({r['blocked_target']}), relay:")
    print(f"  held at once: {r['held_peak']}; RSS then {mib(r['rss_kib_held'] or 0)}"
          f"{'' if per is None else f', {per:.1f} KiB more per held request (its connection included)'}")
    print(f"  answered: {answered} (0: no answer) after {r['blocked_wait_s']['min']}..{r['blocked_wait_s']['max']} s;"
          f" all 200: {'yes' if r['blocked_statuses'] == {'200': r['blocked']} else 'NO'}")
EOF
  )
fi

if ((${#PLAYLIST_CASES[@]})); then
  wants_tool wrk && run_cases wrk "${PLAYLIST_CASES[@]}"
  ((TLS)) && wants_tool h2load && run_cases h2load "${PLAYLIST_CASES[@]}"
fi
playlist_bytes=$(stat -c %s "$WWW$PLAYLIST_PATH")
stop_relays

# --- the segment relay -----------------------------------------------------------------------
segment_bytes=0
if ((${#SEGMENT_CASES[@]})); then
  note "starting a relay that keeps its segments (hls.dvr_window_s)"
  start_relays segments --set hls.dvr_window_s=1800
  # The noise segment closest to 1 MiB.
  segment_name=$(curl -fsS "http://127.0.0.1:$RELAY_PORT$PLAYLIST_PATH" | grep -E '^seg-[0-9a-z]+-[0-9]+\.m4s$' |
    while read -r name; do
      size=$(curl -fsSI "http://127.0.0.1:$RELAY_PORT/live/$RENDITION/$name" | tr -d '\r' |
        awk 'tolower($1) == "content-length:" {print $2}')
      echo "$((size > SEGMENT_TARGET ? size - SEGMENT_TARGET : SEGMENT_TARGET - size)) $name"
    done | sort -n | head -1 | cut -d' ' -f2)
  [[ -n $segment_name ]] || die "no segment in the relay's playlist"
  SEGMENT_PATH=/live/$RENDITION/$segment_name
  curl -fsS -o "$WWW$SEGMENT_PATH" "http://127.0.0.1:$RELAY_PORT$SEGMENT_PATH"
  segment_bytes=$(stat -c %s "$WWW$SEGMENT_PATH")
  cmp -s <(curl -fsS "http://127.0.0.1:$NGINX_PORT$SEGMENT_PATH") <(curl -fsS "http://127.0.0.1:$RELAY_PORT$SEGMENT_PATH") ||
    die "nginx and the relay serve different segment bytes"
  wants_tool wrk && run_cases wrk "${SEGMENT_CASES[@]}"
  ((TLS)) && wants_tool h2load && run_cases h2load "${SEGMENT_CASES[@]}"
  stop_relays
fi

# --- report ----------------------------------------------------------------------------------
# print_table VARIANT ROW...: the rows of that relay variant against nginx.
print_table() {
  local variant=$1
  shift
  printf '%-14s %8s %6s | %9s %8s %9s %7s | %9s %8s %9s %7s | %6s %6s\n' \
    case bytes conns "relay r/s" MB/s "p99 ms" "CPU µs" "nginx r/s" MB/s "p99 ms" "CPU µs" "r/s ×" "p99 ×"
  local row
  for row in "$@"; do
    # shellcheck disable=SC2086 # one field per word
    set -- $row
    [[ $1 == "$variant" ]] || continue
    shift
    awk -v c="$1" -v b="$2" -v n="$3" -v rr="$4" -v rm="$5" -v rp="$6" -v rc="$7" -v re="$8" \
      -v nr="$9" -v nm="${10}" -v np="${11}" -v nc="${12}" -v ne="${13}" 'BEGIN {
        note = ""
        if (re < 0 || ne < 0) note = "  (a run did not finish)"
        else if (re + ne > 0) note = sprintf("  errors: relay %d, nginx %d", re, ne)
        printf "%-14s %8d %6d | %9d %8.1f %9.2f %7.1f | %9d %8.1f %9.2f %7.1f | %6.2f %6.2f%s\n",
          c, b, n, rr, rm, rp, rc, nr, nm, np, nc, (nr > 0 ? rr / nr : 0), (np > 0 ? rp / np : 0), note
      }'
  done
}
# print_tables ROW...: a table per variant; with both, the on/off ratios.
print_tables() {
  local variant row rows=("$@")
  for variant in "${VARIANTS[@]}"; do
    ((${#VARIANTS[@]} > 1)) && echo "$variant (fast path $([[ $variant == relay ]] && echo on || echo off)) vs nginx"
    print_table "$variant" "$@"
  done
  ((${#VARIANTS[@]} > 1)) || return 0
  echo "fast path on/off (relay / relay-off): r/s × (> 1: the fast path serves more), CPU µs × (< 1: it costs less)"
  printf '%-14s %6s | %9s %9s %6s | %7s %7s %6s\n' case conns "on r/s" "off r/s" "r/s ×" "on µs" "off µs" "µs ×"
  local -A off=()
  for row in "${rows[@]}"; do
    # shellcheck disable=SC2086 # one field per word
    set -- $row
    [[ $1 == relay-off ]] && off["$2 $4"]="$5 $8"
  done
  for row in "${rows[@]}"; do
    # shellcheck disable=SC2086 # one field per word
    set -- $row
    [[ $1 == relay && -n ${off["$2 $4"]:-} ]] || continue
    # shellcheck disable=SC2086 # two fields
    awk -v c="$2" -v n="$4" -v rr="$5" -v rc="$8" -v o="${off["$2 $4"]}" 'BEGIN {
        split(o, f, " ")
        printf "%-14s %6d | %9d %9d %6.2f | %7.1f %7.1f %6.2f\n", c, n, rr, f[1], (f[1] > 0 ? rr / f[1] : 0),
          rc, f[2], (f[2] > 0 ? rc / f[2] : 0)
      }'
  done
}
echo
echo "seminar-relay edge vs nginx $("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), loopback, edge.threads = nginx workers = $EDGE_THREADS," \
  "wrk/h2load threads $WRK_THREADS, medians of $BENCH_REPEAT runs of $BENCH_DURATION s each, $(nproc) CPUs shared by all; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "playlist: the relay's LL-HLS media playlist, ~$playlist_bytes bytes (it changes with every part;" \
  "nginx serves a copy taken before each case); segment: ${SEGMENT_PATH:-none}, $segment_bytes bytes, the same bytes from both"
echo "relay CPU while idle (its encoder on the slate): $relay_idle_cpu % of one CPU;" \
  "relays: ${VARIANTS[*]} (BENCH_FAST_PATH=$BENCH_FAST_PATH$( ((${#VARIANTS[@]} > 1)) && echo ", side by side, each ingesting its own copy"))"
echo "r/s × = relay/nginx requests per second (>= 1: relay as fast or faster); p99 × = relay/nginx p99 latency (<= 1: relay as good or better)"
echo "CPU µs = the server's CPU time (all its threads) per request"
echo
echo "HTTP/1.1 (wrk)"
print_tables "${ROWS_wrk[@]}"
echo
if ((TLS)); then
  if [[ $TLS_PROTOCOL == 2 ]]; then
    echo "HTTP/2 over TLS (h2load -m 1)"
  else
    echo "HTTPS with HTTP/1.1 (h2load --h1): the relay's TLS port does not negotiate h2 yet, so no HTTP/2 comparison"
  fi
  print_tables "${ROWS_h2load[@]}"
else
  if [[ $BENCH_TLS == 0 ]]; then echo "TLS: skipped (BENCH_TLS=0)"; else echo "TLS and HTTP/2: skipped; this relay's config has no edge.tls_listen"; fi
fi
if ((${#MEMORY_LINES[@]})); then
  echo
  echo "Memory (VmRSS; kernel socket buffers are not included)"
  printf '%s\n' "${MEMORY_LINES[@]}"
fi
