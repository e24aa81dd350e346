#!/usr/bin/env bash
# Benchmark (not a test): CPU cost of the relay's ABR ladder against ffmpeg doing the
# same job on the same input.
#
#   scripts/bench-ladder.sh            # build/seminar-relay must exist (scripts/build.sh)
#
# 1. Makes (once, cached under build/bench/) a 1080p30 H.264 + AAC clip with motion
#    and temporal noise, so x264 works as it would on a camera picture.
# 2. Runs the relay on it (file:// source, looped, paced in real time) on a free
#    loopback port and, after a warm-up, measures the whole process's CPU time
#    (utime+stime from /proc/PID/stat) over BENCH_SECONDS of wall time. The source
#    is real time, so wall seconds are media seconds (the segment count shows it).
# 3. Runs ffmpeg with the same ladder on the same clip, measured the same way:
#    -re -stream_loop -1, one decode, scale 1080->720 once and 720->480, 720->360
#    from that (the relay's topology: it normalises to the top rung once on the
#    source side), libx264 with the same preset/tune/GOP/bitrate/VBV, no B-frames,
#    no scene cuts, ONE native-AAC encode muxed into every rendition (the tee muxer,
#    like the relay's audio tee), fragmented-MP4 HLS written to tmpfs. If ffmpeg
#    falls behind real time (a busy machine), its CPU is divided by the media
#    seconds it actually muxed (from -progress), not by wall seconds.
# 4. Prints CPU-seconds per media-second, the ratio relay/ffmpeg and peak RSS.
#
# On a busy machine both sides are disturbed in different ways: ffmpeg falls
# behind real time (handled as above), the relay keeps real time but drops late
# frames on its source side (counted from GStreamer's QoS log and shown as r-drop%;
# such a run understates the relay). Use BENCH_RUNS=3 or more and read the medians.
#
# Environment:
#   BENCH_SECONDS=30        measured window per process (after the warm-up)
#   BENCH_WARMUP=5          seconds run before the window starts (same for both)
#   BENCH_RUNS=1            relay/ffmpeg pairs, alternated; medians printed if > 1
#   BENCH_CLIP_SECONDS=20   length of the generated clip; shorter than warm-up + window on
#                           purpose, so every measured window includes a loop of the file
#   BENCH_DIR=build/bench   where the clip is cached
#   BENCH_CLIP=path.mp4     use this clip instead of generating one
#   RELAY_BIN, RELAY_CONFIG the relay binary and config (build/seminar-relay, config/relay.toml)
#   RELAY_ARGS              extra arguments for the relay, e.g. "--set ingest.pipelines_dir=/tmp/variant"
#                           to try pipeline changes; the ffmpeg side always runs the default ladder
#   FFMPEG_SCALE_FLAGS      swscale flags for ffmpeg's scalers (default: ffmpeg's own, bicubic)
# Exits 0 with the table, 1 if either side failed to produce segments.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SECONDS=${BENCH_SECONDS:-30}
BENCH_WARMUP=${BENCH_WARMUP:-5}
BENCH_RUNS=${BENCH_RUNS:-1}
BENCH_CLIP_SECONDS=${BENCH_CLIP_SECONDS:-20}
BENCH_DIR=${BENCH_DIR:-$ROOT/build/bench}
RELAY_BIN=${RELAY_BIN:-$ROOT/build/seminar-relay}
RELAY_CONFIG=${RELAY_CONFIG:-$ROOT/config/relay.toml}
RELAY_ARGS=${RELAY_ARGS:-}
FFMPEG_SCALE_FLAGS=${FFMPEG_SCALE_FLAGS:-}

die() { echo "bench-ladder: error: $*" >&2; exit 1; }
note() { echo "bench-ladder: $*" >&2; }

for tool in ffmpeg curl jq awk; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done
[[ -x $RELAY_BIN ]] || die "$RELAY_BIN not found; build it first (scripts/build.sh)"
[[ $BENCH_SECONDS =~ ^[0-9]+$ && $BENCH_SECONDS -ge 5 ]] || die "BENCH_SECONDS must be a whole number >= 5"
[[ $BENCH_WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number"
[[ $BENCH_RUNS =~ ^[0-9]+$ && $BENCH_RUNS -ge 1 ]] || die "BENCH_RUNS must be a whole number >= 1"

# --- scratch space and cleanup -------------------------------------------------------
scratch_parent=/dev/shm
[[ -d $scratch_parent && -w $scratch_parent ]] || scratch_parent=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$scratch_parent/bench-ladder.XXXXXX")
RELAY_PID=""
FF_PID=""

stop_pid() {  # stop_pid PID SIGNAL: signal, wait up to 5 s, then SIGKILL
  local pid=$1 sig=$2
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  stop_pid "$RELAY_PID" TERM
  stop_pid "$FF_PID" INT
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the clip -------------------------------------------------------------------------
if [[ -n ${BENCH_CLIP:-} ]]; then
  CLIP=$(realpath "$BENCH_CLIP")
  [[ -r $CLIP ]] || die "BENCH_CLIP '$BENCH_CLIP' is not readable"
else
  mkdir -p "$BENCH_DIR"
  CLIP=$(realpath "$BENCH_DIR")/clip-1080p30-${BENCH_CLIP_SECONDS}s.mp4
  if [[ ! -s $CLIP ]]; then
    note "making $CLIP (${BENCH_CLIP_SECONDS} s of 1080p30 testsrc2 + noise, 440 Hz tone)..."
    # testsrc2 moves everywhere; temporal noise stands in for camera grain, so
    # motion search and rate control do real work. 10 Mb/s, GOP 2 s, no B-frames.
    ffmpeg -hide_banner -nostdin -v error -y \
      -f lavfi -i "testsrc2=size=1920x1080:rate=30" \
      -f lavfi -i "sine=frequency=440:sample_rate=48000" \
      -t "$BENCH_CLIP_SECONDS" \
      -filter_complex "[0:v]noise=alls=8:allf=t,format=yuv420p[v];[1:a]aformat=channel_layouts=stereo[a]" \
      -map "[v]" -map "[a]" \
      -c:v libx264 -preset veryfast -b:v 10M -maxrate 12M -bufsize 10M -g 60 -bf 0 \
      -c:a aac -b:a 128k -movflags +faststart "$CLIP.part.mp4" ||
      die "ffmpeg could not make the clip"
    mv "$CLIP.part.mp4" "$CLIP"
  fi
fi

# --- measuring ------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)

cpu_seconds() {  # utime+stime of the whole process (all threads), in seconds
  local stat
  stat=$(<"/proc/$1/stat") || return 1
  stat=${stat##*) }  # fields from 3 (state) on; comm may hold spaces
  awk -v tck="$CLK_TCK" '{ printf "%.3f", ($12 + $13) / tck }' <<<"$stat"
}

peak_rss_mib() {
  awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

now() { echo "$EPOCHREALTIME"; }

# Sleeps until `deadline` (an EPOCHREALTIME value) while `pid` lives; 1 if it died.
sleep_until() {
  local pid=$1 deadline=$2 left
  while :; do
    kill -0 "$pid" 2>/dev/null || return 1
    left=$(awk -v d="$deadline" -v n="$(now)" 'BEGIN { l = d - n; print (l > 0.5 ? 0.5 : l) }')
    if awk -v l="$left" 'BEGIN { exit !(l <= 0) }'; then return 0; fi
    sleep "$left"
  done
}

add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a + b }'; }

# Sets M_DCPU (CPU-s used in the window), M_WALL (its length), M_RSS for process $1,
# started at $2: waits out the warm-up, samples, runs BENCH_SECONDS, samples again.
measure() {
  local pid=$1 started=$2 who=$3 c0 t0 c1 t1
  sleep_until "$pid" "$(add "$started" "$BENCH_WARMUP")" || return 1
  c0=$(cpu_seconds "$pid") && t0=$(now) || return 1
  if [[ $(type -t on_window_start) == function ]]; then on_window_start; fi
  sleep_until "$pid" "$(add "$t0" "$BENCH_SECONDS")" || return 1
  c1=$(cpu_seconds "$pid") && t1=$(now) || return 1
  M_RSS=$(peak_rss_mib "$pid")
  M_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  M_T0=$t0 M_T1=$t1
  M_DCPU=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
  note "$who: ${M_DCPU} CPU-s in ${M_WALL} s of wall time"
}

per_second() { awk -v c="$1" -v s="$2" 'BEGIN { printf "%.3f", (s > 0) ? c / s : 0 }'; }

# --- the relay ------------------------------------------------------------------------
# /api/health's detail is the technician's: the bench relay has this token.
TECH_TOKEN=bench-technician-0123456789abcdef
last_msn() {  # newest finished segment number, lowest over the renditions, or -1
  curl -sf --max-time 3 -H "Authorization: Bearer $TECH_TOKEN" "http://127.0.0.1:$1/api/health" |
    jq -r '[.renditions[].last_msn] | if length == 0 then -1 else min end' 2>/dev/null || echo -1
}

# Frames the relay's source side dropped in the window [$2, $3] (seconds since its
# start), from GStreamer's QoS debug log: late frames dropped by intervideosink or
# skipped by a transform before it. Each one is a repeated frame in the ladder,
# i.e. work the relay did not do, so its CPU figure is too low when this is not 0.
qos_drops() {
  awk -v a="$2" -v b="$3" '
    /qos: dropped buffer|skipping transform/ {
      split($1, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]
      if (s >= a && s <= b) n++
    }
    END { print n + 0 }' "$1"
}

run_relay() {
  local log=$WORK/relay.log qos=$WORK/relay-qos.log port="" started seg0 seg1 master variant
  started=$(now)
  # GST_QOS at debug level logs each late-frame decision (a few hundred short
  # lines a second); it is how the drops are counted.
  # shellcheck disable=SC2086  # RELAY_ARGS is split on purpose
  GST_DEBUG=GST_QOS:5 GST_DEBUG_FILE=$qos GST_DEBUG_NO_COLOR=1 \
    "$RELAY_BIN" --config "$RELAY_CONFIG" --set edge.listen=127.0.0.1:0 \
    --set "ingest.source=file://$CLIP" --set ingest.loop=true --set "qa.technician_tokens=[\"$TECH_TOKEN\"]" \
    $RELAY_ARGS >"$log" 2>&1 &
  RELAY_PID=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' "$log" | head -1)
    [[ -n $port ]] && break
    kill -0 "$RELAY_PID" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { tail -20 "$log" >&2; die "the relay did not start listening (log above)"; }

  on_window_start() { seg0=$(last_msn "$port"); }
  measure "$RELAY_PID" "$started" relay || { tail -20 "$log" >&2; die "the relay exited early (log above)"; }
  unset -f on_window_start
  seg1=$(last_msn "$port")
  master=$(curl -sf --max-time 3 "http://127.0.0.1:$port/live/master.m3u8" || true)
  variant=$(grep -v '^#' <<<"$master" | head -1)
  if [[ $seg1 -le 0 || $master != "#EXTM3U"* || -z $variant ]] ||
    ! curl -sf --max-time 3 "http://127.0.0.1:$port/live/$variant" | grep -q '^#EXTINF'; then
    tail -20 "$log" >&2
    die "the relay produced no segments (health: last_msn ${seg1})"
  fi
  # Segments are 2 s (hls.segment_duration_s): a relay that fell behind real time
  # would finish fewer than BENCH_SECONDS / 2 in the window.
  M_SEGS=$((seg1 - seg0))
  M_DROP=$(qos_drops "$qos" "$(awk -v a="$started" -v b="$M_T0" 'BEGIN { print b - a }')" \
    "$(awk -v a="$started" -v b="$M_T1" 'BEGIN { print b - a }')")
  M_DROP=$(awk -v n="$M_DROP" -v w="$M_WALL" 'BEGIN { printf "%.1f", 100 * n / (30 * w) }')
  # Its source is paced by the clock, so media seconds = wall seconds.
  M_CPU=$(per_second "$M_DCPU" "$M_WALL")
  stop_pid "$RELAY_PID" TERM
  RELAY_PID=""
}

# --- ffmpeg ---------------------------------------------------------------------------
# The relay's ladder (config/relay.toml defaults): 720p 2800k high, 480p 854x480
# 1200k main, 360p 600k main; VBV buffer 0.5 s, maxrate = bitrate.
LADDER=("1280 720 2800 high" "854 480 1200 main" "640 360 600 main")

progress_time() {  # last out_time_us ffmpeg reported, in seconds
  awk -F= '/^out_time_us=/ && $2 ~ /^[0-9]+$/ { t = $2 } END { printf "%.3f", t / 1e6 }' "$1"
}

run_ffmpeg() {
  local out=$WORK/ffmpeg-out log=$WORK/ffmpeg.log prog=$WORK/ffmpeg.progress started
  local sf="" filter tee="" args=() i w h kbps profile p0 p1 n
  rm -rf "$out"
  mkdir -p "$out"
  if [[ -n $FFMPEG_SCALE_FLAGS ]]; then sf=":flags=$FFMPEG_SCALE_FLAGS"; fi
  read -r w h _ _ <<<"${LADDER[0]}"
  filter="[0:v]scale=$w:$h$sf,split=${#LADDER[@]}[v0]"
  for i in $(seq 1 $((${#LADDER[@]} - 1))); do filter+="[s$i]"; done
  for i in "${!LADDER[@]}"; do
    read -r w h kbps profile <<<"${LADDER[$i]}"
    if ((i > 0)); then filter+=";[s$i]scale=$w:$h${sf}[v$i]"; fi
    args+=(-map "[v$i]" "-b:v:$i" "${kbps}k" "-maxrate:v:$i" "${kbps}k" "-bufsize:v:$i" "$((kbps / 2))k"
      "-profile:v:$i" "$profile")
    mkdir -p "$out/$i"
    tee+="${tee:+|}[select=\\'v:$i,a\\':f=hls:hls_time=2:hls_list_size=6:hls_segment_type=fmp4"
    tee+=":hls_flags=delete_segments+independent_segments:hls_fmp4_init_filename=init.mp4"
    tee+=":hls_segment_filename=$out/$i/seg%d.m4s]$out/$i/index.m3u8"
  done
  started=$(now)
  ffmpeg -hide_banner -nostdin -v warning -progress "$prog" \
    -re -stream_loop -1 -i "$CLIP" \
    -filter_complex "$filter" "${args[@]}" -map 0:a \
    -c:v libx264 -preset veryfast -tune zerolatency -g 60 -keyint_min 60 -sc_threshold 0 -bf 0 \
    -c:a aac -b:a 128k -ac 2 -ar 48000 \
    -f tee "$tee" >"$log" 2>&1 &
  FF_PID=$!

  on_window_start() { p0=$(progress_time "$prog"); }
  measure "$FF_PID" "$started" ffmpeg || { tail -20 "$log" >&2; die "ffmpeg exited early (log above)"; }
  unset -f on_window_start
  p1=$(progress_time "$prog")
  M_SPEED=$(awk -v a="$p0" -v b="$p1" -v w="$M_WALL" 'BEGIN { printf "%.3f", (b - a) / w }')
  # -re caps ffmpeg at real time, but on a busy machine it can fall behind; then
  # it works flat out and wall seconds overstate the media it processed. Count
  # the media seconds it muxed instead (equal to the wall seconds when it keeps up).
  M_CPU=$(per_second "$M_DCPU" "$(awk -v a="$p0" -v b="$p1" 'BEGIN { printf "%.3f", b - a }')")
  for i in "${!LADDER[@]}"; do
    n=$(find "$out/$i" -name 'seg*.m4s' -size +0 | wc -l)
    if [[ ! -s $out/$i/init.mp4 || $n -eq 0 ]]; then
      tail -20 "$log" >&2
      die "ffmpeg wrote no segments for rendition $i (log above)"
    fi
  done
  stop_pid "$FF_PID" INT
  FF_PID=""
}

# --- runs and report --------------------------------------------------------------------
median() {  # median of the numbers on stdin, printed with format $1 (default %.3f)
  tr ' ' '\n' | grep . | sort -g |
    awk -v f="${1:-%.3f}" '{ v[NR] = $1 } END { printf f, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

note "clip $CLIP; warm-up ${BENCH_WARMUP} s, window ${BENCH_SECONDS} s, ${BENCH_RUNS} run(s)"
R_CPU=() F_CPU=() RATIO=() R_RSS=() F_RSS=()
rows=""
for run in $(seq "$BENCH_RUNS"); do
  run_relay
  r_cpu=$M_CPU r_rss=$M_RSS r_segs=$M_SEGS r_drop=$M_DROP
  run_ffmpeg
  f_cpu=$M_CPU f_rss=$M_RSS f_speed=$M_SPEED
  ratio=$(awk -v a="$r_cpu" -v b="$f_cpu" 'BEGIN { printf "%.3f", a / b }')
  R_CPU+=("$r_cpu") F_CPU+=("$f_cpu") RATIO+=("$ratio") R_RSS+=("$r_rss") F_RSS+=("$f_rss")
  rows+=$(printf '%-6s %9s %10s %6s %9s %10s %6s %7s %5s' "$run" "$r_cpu" "$f_cpu" "$ratio" "$r_rss" "$f_rss" \
    "$r_segs" "$r_drop" "$f_speed")$'\n'
  if awk -v d="$r_drop" 'BEGIN { exit !(d > 1) }'; then
    note "note: the relay dropped ${r_drop}% of its frames as late in run $run (busy machine);" \
      "it did less work than ffmpeg, so its figure and the ratio are too low"
  fi
  if awk -v s="$f_speed" 'BEGIN { exit !(s < 0.97) }'; then
    note "note: ffmpeg fell behind real time (${f_speed}x) in run $run, the machine is busy;" \
      "its figure is per media second it muxed"
  fi
done

echo
echo "ABR ladder, 1080p30 file in -> 720p/480p/360p x264 veryfast zerolatency + AAC, fMP4 HLS"
echo "CPU-seconds per media-second, whole process, ${BENCH_SECONDS} s window after ${BENCH_WARMUP} s warm-up ($(nproc) cores)"
printf '%-6s %9s %10s %6s %9s %10s %6s %7s %5s\n' run relay-cpu ffmpeg-cpu ratio relay-MiB ffmpeg-MiB r-segs r-drop% ff-x
printf '%s' "$rows"
if ((BENCH_RUNS > 1)); then
  printf '%-6s %9s %10s %6s %9s %10s\n' median \
    "$(median <<<"${R_CPU[*]}")" "$(median <<<"${F_CPU[*]}")" "$(median <<<"${RATIO[*]}")" \
    "$(median %.1f <<<"${R_RSS[*]}")" "$(median %.1f <<<"${F_RSS[*]}")"
fi
echo "ratio = relay/ffmpeg (lower is better for the relay); MiB = peak RSS (VmHWM);"
echo "r-segs = segments the relay finished per rendition in the window; r-drop% = frames its source"
echo "side dropped as late (should be 0); ff-x = ffmpeg speed vs real time (should be 1)"
exit 0
