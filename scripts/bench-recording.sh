#!/usr/bin/env bash
# Benchmark (not a test): what the recording costs (docs/recording.md, "Cost").
# Runs the relay twice on the same config and test: source for BENCH_SECONDS
# each, once with [recording] off and once on, and prints the relay's process
# CPU (user + system seconds over the window, from /proc/<pid>/stat) for both,
# and for the recorded run the bytes written per media second against the
# ladder's nominal bitrate (video + audio per rendition, from the master).
#
#   scripts/bench-recording.sh                      # the light ladder (as the tests)
#   BENCH_LADDER=default scripts/bench-recording.sh # the shipped ladder
#
# build/seminar-relay must exist (scripts/build.sh).
#   BENCH_SECONDS=40   the measured window, after 10 s of warm-up
#   BENCH_LADDER=light light | default
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 - "$@" <<'PY'
import json, os, re, shutil, sys, tempfile, time
sys.path.insert(0, "tests/integration")
from relay_harness import LIGHT, TECH_TOKEN, Relay

binary = os.path.abspath("build/seminar-relay")
seconds = float(os.environ.get("BENCH_SECONDS", "40"))
ladder = os.environ.get("BENCH_LADDER", "light")
base = (LIGHT if ladder == "light" else []) + ["hls.segment_duration_s=2"]
tick = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def thread_cpu_s(pid, name):
    """CPU seconds of the process's threads called `name` (the recorder's writer is "recorder")."""
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except FileNotFoundError:
            pass
    return total


def nominal_kbps(relay):
    """(peak, average) kbit/s over all variants, as the master's BANDWIDTH and AVERAGE-BANDWIDTH measure them."""
    master = relay.get("/live/master.m3u8").decode()
    infs = re.findall(r"#EXT-X-STREAM-INF:([^\n]*)", master)
    peak = sum(int(re.search(r"(?<![-A-Z])BANDWIDTH=(\d+)", i).group(1)) for i in infs) / 1000
    average = sum(int(m.group(1)) for i in infs if (m := re.search(r"AVERAGE-BANDWIDTH=(\d+)", i))) / 1000
    return peak, average


def run(recording):
    tmp = tempfile.mkdtemp(prefix="bench-recording-")
    overrides = base + [f"recording.enabled={'true' if recording else 'false'}", f"recording.dir={tmp}/rec",
                        "recording.event=bench", "recording.warn_free_mb=0", "recording.stop_free_mb=0"]
    try:
        with Relay(binary, os.getcwd(), overrides) as relay:
            relay.wait_for(lambda: relay.get("/live/master.m3u8"), 60, "the master playlist")
            relay.wait_for_segments(relay_first(relay), 2, timeout=60)
            time.sleep(10)  # warm-up: the encoders settle
            status = lambda: json.loads(relay.get("/api/recording", headers={"Authorization": f"Bearer {TECH_TOKEN}"}))
            c0, b0, t0 = cpu_s(relay.proc.pid), status()["bytes_written"], time.time()
            w0 = thread_cpu_s(relay.proc.pid, "recorder")
            s0 = status()["segments"]
            time.sleep(seconds)
            c1, s, t1 = cpu_s(relay.proc.pid), status(), time.time()
            writer = thread_cpu_s(relay.proc.pid, "recorder") - w0
            media = media_seconds(f"{tmp}/rec/bench") if recording else 0
            return {"cpu_s": c1 - c0, "writer_cpu_s": writer, "wall_s": t1 - t0, "bytes": s["bytes_written"] - b0,
                    "segments": s["segments"] - s0, "kbps_nominal": nominal_kbps(relay),
                    "journal_bytes": os.path.getsize(f"{tmp}/rec/bench/journal.jsonl") if recording else 0,
                    "media_s": media, "total_bytes": s["bytes_written"], "dropped": s["dropped"]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def relay_first(relay):
    master = relay.get("/live/master.m3u8").decode()
    return re.findall(r"^([^#\n][^/\n]*)/index\.m3u8", master, re.M)[0]


def media_seconds(event_dir):
    """Media seconds recorded, of the first rendition (every rendition records the same time)."""
    lines = [json.loads(l) for l in open(f"{event_dir}/journal.jsonl") if l.strip()]
    segs = [l for l in lines if l["type"] == "segment"]
    first = segs[0]["rendition"] if segs else None
    return sum(l["duration"] for l in segs if l["rendition"] == first)


off = run(False)
on = run(True)
peak, average = on["kbps_nominal"]
print(f"ladder: {ladder}; all variants together: BANDWIDTH {peak:.0f} kbit/s, AVERAGE-BANDWIDTH {average:.0f} kbit/s")
print(f"CPU, recording off: {off['cpu_s']:.2f} s in {off['wall_s']:.1f} s = {100 * off['cpu_s'] / off['wall_s']:.1f} % of a core")
print(f"CPU, recording on:  {on['cpu_s']:.2f} s in {on['wall_s']:.1f} s = {100 * on['cpu_s'] / on['wall_s']:.1f} % of a core")
print(f"difference: {100 * (on['cpu_s'] - off['cpu_s']) / on['wall_s']:+.1f} % of a core "
      f"({100 * (on['cpu_s'] - off['cpu_s']) / max(off['cpu_s'], 1e-9):+.1f} % of the relay's own CPU)")
print(f"the recorder's writer thread alone: {on['writer_cpu_s']:.2f} s in {on['wall_s']:.1f} s = "
      f"{100 * on['writer_cpu_s'] / on['wall_s']:.2f} % of a core")
rate = on["bytes"] * 8 / on["wall_s"] / 1000
print(f"written: {on['bytes']} bytes in {on['segments']} segments over {on['wall_s']:.1f} s = {rate:.0f} kbit/s "
      f"= {rate / average if average else 0:.2f} x AVERAGE-BANDWIDTH, {rate / peak:.2f} x BANDWIDTH; dropped {on['dropped']}")
if on["media_s"]:
    total = on["total_bytes"] + on["journal_bytes"]
    print(f"per media second (whole recording, journal included): {total / on['media_s'] / 1000:.1f} kB "
          f"({total * 8 / on['media_s'] / 1000:.0f} kbit/s); journal {on['journal_bytes']} bytes")
PY
