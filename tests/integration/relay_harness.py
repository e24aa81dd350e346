"""Starts the real seminar-relay binary on a free loopback port and talks to it.

Shared by the integration tests; only the Python standard library, ffmpeg and
ffprobe are used.
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

# A light ladder: the tests check behaviour, not picture quality, and CI has 2 cores.
LIGHT_LADDER = (
    '[{name="360p",width=640,height=360,bitrate_kbps=800,profile="high"},'
    '{name="240p",width=426,height=240,bitrate_kbps=400,profile="main"},'
    '{name="180p",width=320,height=180,bitrate_kbps=200,profile="baseline"}]'
)
LIGHT = [
    "ingest.width=640", "ingest.height=360", "encoder.preset=ultrafast",
    f"encoder.renditions={LIGHT_LADDER}",
]


# The technician's surfaces (/metrics, /api/incidents, /api/tech/*, the detail of
# /api/health) are closed without a technician token, so every harness relay has
# this one, and its request helpers send it on those routes as a technician's
# tools do. A test that means to ask as the public passes technician=False.
TECH_TOKEN = "harness-technician-0123456789abcdef"
TECH_PATHS = ("/metrics", "/api/incidents", "/api/tech/", "/api/health")


def tech_headers(path, headers=None):
    """`headers` plus the harness's technician token when `path` is a technician's route
    and no Authorization is set."""
    headers = dict(headers or {})
    if path.startswith(TECH_PATHS) and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {TECH_TOKEN}"
    return headers


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--source-dir", required=True)
    return p.parse_args()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """The relay process; use as a context manager so it is always stopped."""

    def __init__(self, binary, source_dir, overrides=(), port=None, config=None):
        """`config` replaces the shipped config/relay.toml (a test that rewrites it for a reload);
        its technician tokens are then its own, else the relay gets TECH_TOKEN."""
        self.port = port or free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="relay-", suffix=".log", delete=False)
        cmd = [binary, "--config", config or os.path.join(source_dir, "config", "relay.toml"),
               "--set", f"edge.listen=127.0.0.1:{self.port}"]
        # Each run keeps its Q&A database to itself, never in the source tree.
        if not any(o.startswith("qa.data_dir=") for o in overrides):
            cmd += ["--set", f"qa.data_dir={tempfile.mkdtemp(prefix='relay-qa-')}"]
        if config is None and not any(o.startswith("qa.technician_tokens=") for o in overrides):
            cmd += ["--set", f'qa.technician_tokens=["{TECH_TOKEN}"]']
        for o in overrides:
            cmd += ["--set", o]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("relay did not stop within 15 s of SIGTERM")
        return self.proc.returncode

    def log_text(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def request(self, path, method="GET", headers=None, timeout=10, technician=True, port=None):
        """One request; on a technician's route it carries TECH_TOKEN unless technician=False
        or `headers` has an Authorization of its own."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            conn.request(method, path, headers=tech_headers(path, headers) if technician else (headers or {}))
            r = conn.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            conn.close()

    def get(self, path, **kw):
        status, headers, body = self.request(path, **kw)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {body[:200]!r}")
        return body

    def wait_for(self, predicate, timeout, what):
        deadline = time.time() + timeout
        last_error = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"relay exited ({self.proc.returncode}) while waiting for {what}:\n"
                                     + self.log_text()[-3000:])
            try:
                value = predicate()
                if value:
                    return value
            except (OSError, AssertionError, http.client.HTTPException) as e:
                last_error = e
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last_error})\n"
                             + self.log_text()[-3000:])

    def wait_for_segments(self, rendition, count, timeout=40):
        def ready():
            segs = media_segments(self.get(f"/live/{rendition}/index.m3u8").decode())
            return segs if len(segs) >= count else None
        return self.wait_for(ready, timeout, f"{count} segments of {rendition}")

    def segment_path(self, rendition, msn, extension="m4s"):
        """The URL path of a segment, named as the rendition's playlist names its objects."""
        text = self.get(f"/live/{rendition}/index.m3u8").decode()
        return f"/live/{rendition}/{segment_name(text, msn, extension)}"

    def segment(self, rendition, msn, extension="m4s"):
        return self.get(self.segment_path(rendition, msn, extension))

    def init_section(self, rendition):
        """The init section the rendition's newest segment needs (its EXT-X-MAP)."""
        text = self.get(f"/live/{rendition}/index.m3u8").decode()
        return self.get(f"/live/{rendition}/{init_name(text)}")

    def newest_msn(self, rendition):
        return media_segments(self.get(f"/live/{rendition}/index.m3u8").decode())[-1][0]

    def wait_for_new_segments(self, rendition, count=2, timeout=20):
        """Waits until `count` segments newer than the newest listed now are listed.
        The one being made now is the first of them, so with count=2 the newest
        listed segment then began after this call: what is on air now."""
        first = self.newest_msn(rendition) + count
        return self.wait_for(lambda: self.newest_msn(rendition) >= first, timeout,
                             f"segment {first} of {rendition}")


def master_variants(text):
    """[(attributes dict, uri)] from a master playlist."""
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            attrs = {k: v.strip('"') for k, v in attrs.items()}
            out.append((attrs, lines[i + 1]))
    return out


def media_segments(text):
    """[(msn, duration, uri, pdt)] from a media playlist."""
    seq = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text).group(1))
    out, duration, pdt = [], None, None
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = line.split(":", 1)[1]
        elif line and not line.startswith("#"):
            out.append((seq, duration, line, pdt))
            seq += 1
    return out


def tag_value(text, tag):
    m = re.search(re.escape(tag) + r":([^\n]*)", text)
    return m.group(1) if m else None


def ffprobe_frames(path, count=None):
    """Video frames of a file: [{pict_type, pts_time, width, height, key_frame}]."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
           "frame=pict_type,pts_time,width,height,key_frame", "-of", "json"]
    if count:
        cmd += ["-read_intervals", f"%+#{count}"]
    out = subprocess.run(cmd + [path], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"ffprobe failed on {path}: {out.stderr}")
    return json.loads(out.stdout)["frames"]


def make_clip(path, seconds=6, size="640x360", rate=30, audio=True):
    """An H.264/AAC MP4 with motion, made with ffmpeg."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=44100:duration={seconds}"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", "aac", "-b:a", "96k"]
    subprocess.run(cmd + [path], check=True, timeout=120)


class Checks:
    """Collects failures so one run reports all of them, then exits non-zero."""

    def __init__(self):
        self.failures = []
        self.count = 0

    def check(self, cond, what):
        self.count += 1
        if not cond:
            self.failures.append(what)
            print(f"FAIL: {what}", flush=True)
        return cond

    def finish(self):
        print(f"{self.count - len(self.failures)}/{self.count} checks passed", flush=True)
        sys.exit(1 if self.failures else 0)


# Low-Latency HLS helpers.

PART_RE = re.compile(r'#EXT-X-PART:([^\n]*)')
# Object names carry the stream instance (docs/architecture.md, "Object names"):
# seg-<instance>-<msn>.m4s, part-<instance>-<msn>.<index>.m4s, init-<content hash>.mp4.
HINT_RE = re.compile(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-[0-9a-z]+-(\d+)\.(\d+)\.m4s"')
PART_URI_RE = re.compile(r'part-[0-9a-z]+-(\d+)\.(\d+)\.m4s')
OBJECT_INSTANCE_RE = re.compile(r'^(?:seg|part)-([0-9a-z]+)-\d', re.M)
MAP_RE = re.compile(r'#EXT-X-MAP:URI="([^"]+)"')


def stream_instance(text):
    """The stream instance in the segment and part names of a media playlist."""
    m = OBJECT_INSTANCE_RE.search(text) or re.search(r'URI="(?:seg|part)-([0-9a-z]+)-\d', text)
    return m.group(1) if m else None


def segment_name(text, msn, extension="m4s"):
    """The name of segment `msn` of the stream whose media playlist is `text` (listed or not)."""
    return f"seg-{stream_instance(text)}-{msn}.{extension}"


def part_name(text, msn, index):
    """The name of part `index` of segment `msn` of the stream whose playlist is `text`."""
    return f"part-{stream_instance(text)}-{msn}.{index}.m4s"


def init_name(text):
    """The EXT-X-MAP URI that holds for the newest segment of a media playlist."""
    maps = MAP_RE.findall(text)
    return maps[-1] if maps else None


def ll_parts(text):
    """[(msn, index, duration, independent, uri)] of the EXT-X-PART tags of a media playlist."""
    out = []
    for m in PART_RE.finditer(text):
        attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', m.group(1)))
        uri = attrs["URI"].strip('"')
        msn, index = (int(x) for x in PART_URI_RE.fullmatch(uri).groups())
        out.append((msn, index, float(attrs["DURATION"]), attrs.get("INDEPENDENT") == "YES", uri))
    return out


def preload_hint(text):
    """(msn, index) of the EXT-X-PRELOAD-HINT TYPE=PART, or None."""
    m = HINT_RE.search(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def thread_count(pid):
    """Threads of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError(f"no Threads line for pid {pid}")


def raise_fd_limit(wanted):
    """Raises this process's open-file soft limit (and so its children's) towards `wanted`."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def mean_luma(path):
    """Average luma (0-255) of the first decoded frame of a file: black is about 16."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "gray", "-"], capture_output=True, timeout=60)
    if out.returncode != 0 or not out.stdout:
        raise AssertionError(f"cannot decode a frame of {path}: {out.stderr[-300:]!r}")
    return sum(out.stdout) / len(out.stdout)
