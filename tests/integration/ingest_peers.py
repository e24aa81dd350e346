"""Real peers for the ingest tests: ffmpeg pushing SRT or serving RTMP, and
watchers that record what the relay published and reported while they come and
go. Only the standard library, ffmpeg and ffprobe."""
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

from relay_harness import ffprobe_frames, media_segments, mean_luma

# Picture colours the tests tell apart by mean luma (BT.601 limited range):
# white ≈ 235, the slate grey below ≈ 126, dark grey ≈ 60, black ≈ 16.
SLATE = ["ingest.slate_color=#808080", "ingest.slate_text=", "ingest.input_timeout_s=0.5",
         "ingest.slate_after_s=1"]


def udp_port():
    """A free UDP port on loopback, for an SRT listener."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sender_cmd(url, color="white", size="640x360", rate=30, audio=True, video=True, fmt="mpegts", extra=()):
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-re"]
    if video:
        cmd += ["-f", "lavfi", "-i", f"color=c={color}:size={size}:rate={rate}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    if video:
        cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(rate), "-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "64k"]
    return cmd + list(extra) + ["-f", fmt, url]


class Sender:
    """An ffmpeg process pushing (or serving) a live stream until stopped; it is
    restarted whenever it exits on its own (the relay's listener may not be up
    yet), as an encoder in the hall would retry."""

    def __init__(self, cmd, name="sender"):
        self.cmd = cmd
        self.name = name
        self.proc = None
        self.stopped = threading.Event()
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.is_set():
            self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
            while self.proc.poll() is None and not self.stopped.is_set():
                time.sleep(0.1)
            if not self.stopped.is_set():
                time.sleep(0.5)

    def stop(self):
        """Kills the sender at once, like a pulled cable or a crashed laptop."""
        self.stopped.set()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(timeout=5)

    def log_text(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()


class Watcher:
    """Polls a media playlist and /api/health every 0.2 s in the background and
    records when each new segment appeared and every ingest state seen."""

    def __init__(self, relay, rendition):
        self.relay = relay
        self.rendition = rendition
        self.arrivals = []   # (monotonic time, msn, duration, pdt)
        self.states = []     # (monotonic time, state, output)
        self.errors = []
        self.media_sequences = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        seen = set()
        while not self.stop_event.is_set():
            now = time.monotonic()
            try:
                text = self.relay.get(f"/live/{self.rendition}/index.m3u8").decode()
                for msn, duration, _uri, pdt in media_segments(text):
                    if msn not in seen:
                        seen.add(msn)
                        self.arrivals.append((now, msn, duration, pdt))
                self.media_sequences.append(int(text.split("#EXT-X-MEDIA-SEQUENCE:")[1].split()[0]))
                h = json.loads(self.relay.get("/api/health"))
                state = (h["ingest"]["state"], h["ingest"]["output"])
                if not self.states or self.states[-1][1:] != state:
                    self.states.append((now,) + state)
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                self.errors.append(f"{now:.1f}: {e}")
            time.sleep(0.2)

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=5)

    def state_names(self):
        """The sequence of distinct states, e.g. ['waiting', 'live', 'lost', 'slate', 'live']."""
        out = []
        for _, state, _ in self.states:
            if not out or out[-1] != state:
                out.append(state)
        return out

    def largest_gap(self, after):
        """Longest wait between two new segments seen after monotonic time `after`."""
        times = [t for t, *_ in self.arrivals if t >= after]
        return max((b - a for a, b in zip(times, times[1:])), default=0)


def newest_segment_luma(relay, rendition, tmp, skip_newest=0):
    """Mean luma of the first frame of the newest (or an older) segment."""
    segs = media_segments(relay.get(f"/live/{rendition}/index.m3u8").decode())
    msn = segs[-1 - skip_newest][0]
    path = os.path.join(tmp, f"{rendition}-{msn}.mp4")
    with open(path, "wb") as f:
        f.write(relay.init_section(rendition) + relay.segment(rendition, msn))
    return mean_luma(path), msn


def segment_streams(relay, rendition, tmp):
    """What the newest segment carries: {"video": (w, h), "frames": n, "audio": (rate, channels)}."""
    segs = media_segments(relay.get(f"/live/{rendition}/index.m3u8").decode())
    msn = segs[-1][0]
    path = os.path.join(tmp, f"{rendition}-{msn}-streams.mp4")
    with open(path, "wb") as f:
        f.write(relay.init_section(rendition) + relay.segment(rendition, msn))
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height,sample_rate,channels",
                          "-of", "json", path], capture_output=True, text=True, timeout=60)
    info = {"frames": len(ffprobe_frames(path))}
    for st in json.loads(out.stdout)["streams"]:
        if st["codec_type"] == "video":
            info["video"] = (st["width"], st["height"])
        elif st["codec_type"] == "audio":
            info["audio"] = (int(st["sample_rate"]), st["channels"])
    return info


def timestamp_problems(relay, rendition, tmp):
    """Reads every segment of the playlist as one file and returns what breaks the
    rule that video frames and AAC frames follow each other at one fixed step
    (the problems as text; empty when there are none)."""
    segs = media_segments(relay.get(f"/live/{rendition}/index.m3u8").decode())
    path = os.path.join(tmp, f"{rendition}-all.mp4")
    with open(path, "wb") as f:
        f.write(relay.init_section(rendition))
        for msn, *_ in segs:
            f.write(relay.segment(rendition, msn))
    problems = []
    for stream in ("v", "a"):
        out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=dts_time",
                              "-of", "csv=p=0", path], capture_output=True, text=True, timeout=60).stdout.split()
        dts = [float(x) for x in out if x]
        steps = sorted({round(b - a, 3) for a, b in zip(dts, dts[1:])})
        if len(dts) < 10:
            problems.append(f"{stream}: only {len(dts)} packets")
        elif len(steps) != 1:
            problems.append(f"{stream}: steps between packets {steps[:8]} in {len(dts)} packets")
    return problems, len(segs)


def hls_reader(relay, seconds):
    """ffmpeg reading and decoding the master playlist like a player, stopping at the first error."""
    return subprocess.Popen(
        ["ffmpeg", "-v", "error", "-nostdin", "-xerror", "-i", f"http://127.0.0.1:{relay.port}/live/master.m3u8",
         "-t", str(seconds), "-f", "null", "-"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
