#!/usr/bin/env python3
"""Bad input at the ingest never crashes the relay and never stops the slate:
SRT senders with a wrong passphrase or stream id are refused and logged, random
datagrams at the SRT port and random bytes from an "RTSP camera" are survived,
a stream without video keeps the slate on and says why, and a truncated file
keeps the output going."""
import json
import os
import random
import socket
import subprocess
import tempfile
import threading
import time

from ingest_peers import SLATE, Sender, Watcher, newest_segment_luma, sender_cmd, udp_port
from relay_harness import LIGHT, Checks, Relay, free_port, make_clip, parse_args

PASSPHRASE = "correct-horse-battery"


def ingest(relay):
    return json.loads(relay.get("/api/health"))["ingest"]


def push_once(url, seconds=4, **kw):
    """One ffmpeg push attempt; returns its exit code (non-zero when refused)."""
    return subprocess.run(["timeout", str(seconds)] + sender_cmd(url, **kw), capture_output=True).returncode


def garbage_rtsp_server(port, stop):
    """Answers every connection with random bytes, then hangs up."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    srv.settimeout(0.2)
    connections = 0
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        connections += 1
        try:
            conn.recv(4096)
            conn.sendall(os.urandom(2048) + b"\r\n\r\n" + os.urandom(512))
        except OSError:
            pass
        conn.close()
    srv.close()
    stop.connections = connections


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="ingest-bad-")

    # SRT: encryption and stream id enforced.
    port = udp_port()
    base = f"srt://127.0.0.1:{port}?pkt_size=1316"
    overrides = LIGHT + SLATE + [f"ingest.source=srt://127.0.0.1:{port}?mode=listener",
                                 f"ingest.srt_passphrase={PASSPHRASE}", "ingest.srt_streamid=hall-a"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        relay.wait_for_segments("360p", 1, timeout=40)
        watcher = Watcher(relay, "360p")
        started = time.monotonic()

        rc = push_once(f"{base}&passphrase=wrong-horse-battery&streamid=hall-a")
        c.check(rc != 0, f"a sender with the wrong passphrase is refused (ffmpeg exit {rc})")
        relay.wait_for(lambda: "refused an SRT sender: Incorrect passphrase" in relay.log_text(), 5,
                       "the wrong passphrase to be logged")
        h = ingest(relay)
        c.check(h["refused_senders"] >= 1 and "passphrase" in h["last_refusal"],
                f"health counts the refusal: {h['refused_senders']} {h['last_refusal']!r}")
        c.check(PASSPHRASE not in relay.log_text() and PASSPHRASE not in json.dumps(h),
                "the passphrase appears in neither the log nor health")

        rc = push_once(f"{base}")
        c.check(rc != 0, f"a sender without a passphrase is refused (ffmpeg exit {rc})")

        rc = push_once(f"{base}&passphrase={PASSPHRASE}&streamid=intruder")
        c.check(rc != 0, f"a sender with another stream id is refused (ffmpeg exit {rc})")
        relay.wait_for(lambda: "stream id 'intruder' is not the configured one" in relay.log_text(), 5,
                       "the wrong stream id to be logged")
        c.check(ingest(relay)["inputs"][0]["refused"] >= 1, "the input counts the refused stream id")

        # Random datagrams at the SRT port.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rng = random.Random(7)
        for _ in range(2000):
            sock.sendto(os.urandom(rng.randint(1, 1500)), ("127.0.0.1", port))
        sock.close()
        time.sleep(2)
        h = ingest(relay)
        c.check(relay.proc.poll() is None and h["state"] == "waiting",
                f"random datagrams change nothing: still waiting ({h['state']})")

        # A stream with sound only: accepted, but the slate stays on, with the reason.
        audio_only = Sender(sender_cmd(f"{base}&passphrase={PASSPHRASE}&streamid=hall-a", video=False), "audio-only")
        relay.wait_for(lambda: "no video" in ingest(relay)["inputs"][0]["last_error"], 15,
                       "the missing video to be reported")
        c.check(ingest(relay)["state"] == "waiting", "without video the slate stays on")
        audio_only.stop()

        # And the right sender still gets in after all that.
        good = Sender(sender_cmd(f"{base}&passphrase={PASSPHRASE}&streamid=hall-a"), "good")
        relay.wait_for(lambda: ingest(relay)["state"] == "live", 20, "the right sender to go live")
        good.stop()
        watcher.stop()
        gap = watcher.largest_gap(started)
        c.check(gap <= 2.6, f"the output never stopped through all of it (largest gap {gap:.2f} s)")
        c.check(not watcher.errors, f"every poll answered: {watcher.errors[:3]}")

    # RTSP: the "camera" answers with random bytes.
    port = free_port()
    stop = threading.Event()
    server = threading.Thread(target=garbage_rtsp_server, args=(port, stop), daemon=True)
    server.start()
    overrides = LIGHT + SLATE + [f"ingest.source=rtsp://127.0.0.1:{port}/stream", "ingest.reconnect_max_s=1"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        relay.wait_for_segments("360p", 2, timeout=40)
        relay.wait_for(lambda: ingest(relay)["inputs"][0]["reconnects"] >= 2, 15, "two reconnects to the bad camera")
        c.check(relay.proc.poll() is None, "RTSP garbage: the relay is still running")
        h = ingest(relay)
        c.check(h["inputs"][0]["reconnects"] >= 2, f"RTSP garbage: the relay keeps retrying ({h['inputs'][0]})")
        c.check(h["inputs"][0]["last_error"] != "", "RTSP garbage: the error is reported")
        c.check(h["state"] == "waiting", f"RTSP garbage: the slate is on ({h['state']})")
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(100 < luma < 150, f"RTSP garbage: the slate is what attendees see (mean luma {luma:.0f})")
    stop.set()
    server.join(timeout=5)
    c.check(getattr(stop, "connections", 0) >= 2, "RTSP garbage: the relay did connect to the bad camera")

    # A truncated file. Cut before its index (moov at the end), it cannot be
    # opened: a clear error at start. Cut after it (faststart), it plays what
    # there is and the output keeps going.
    clip = os.path.join(tmp, "clip.mp4")
    make_clip(clip, seconds=6)
    truncated = os.path.join(tmp, "truncated.mp4")
    with open(clip, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) * 6 // 10])
    r = subprocess.run([args.binary, "--config", os.path.join(args.source_dir, "config", "relay.toml"),
                        "--set", f"edge.listen=127.0.0.1:{free_port()}", "--set", f"ingest.source=file://{truncated}",
                        "--set", f"qa.data_dir={tmp}/qa"] + [a for o in LIGHT for a in ("--set", o)],
                       capture_output=True, text=True, timeout=60)
    c.check(r.returncode == 1 and "cannot open ingest.source" in r.stderr,
            f"a file cut before its index fails at start with a clear error: {r.returncode} {r.stderr[-300:]}")
    faststart = os.path.join(tmp, "faststart.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", clip, "-c", "copy", "-movflags", "+faststart", faststart],
                   check=True, timeout=60)
    with open(faststart, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) * 6 // 10])
    with Relay(args.binary, args.source_dir, LIGHT + SLATE + [f"ingest.source=file://{truncated}"]) as relay:
        relay.wait_for_segments("360p", 1, timeout=40)
        watcher = Watcher(relay, "360p")
        started = time.monotonic()
        time.sleep(14)
        watcher.stop()
        c.check(relay.proc.poll() is None, "truncated file: the relay is still running")
        gap = watcher.largest_gap(started)
        c.check(gap <= 2.6, f"truncated file: the output keeps going (largest gap {gap:.2f} s)")
        c.check(not watcher.errors, f"truncated file: every poll answered: {watcher.errors[:3]}")
        c.check("looping" in relay.log_text() or "again in" in relay.log_text(),
                "truncated file: its early end is handled (looped or reopened)")
    c.finish()


if __name__ == "__main__":
    main()
