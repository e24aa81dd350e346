#!/usr/bin/env python3
"""Input QoS on the real binary. A 60 fps file with a keyframe every 10 s feeds a
30 fps ladder: /metrics shows the keyframe interval of the compressed input and
the frames the normaliser drops, /api/health lists both for the input, and the
"keyframe interval" alert fires. An SRT sender with a 10 s GOP fires the alert
too, and a sender with a 1 s GOP taking its place resolves it. The raw test:
source has no keyframes, so no figure and no alert (test_health_metrics)."""
import json
import os
import subprocess
import tempfile

from ingest_peers import Sender, sender_cmd, udp_port
from prom_format import parse, value
from relay_harness import LIGHT, Checks, Relay, parse_args

# Only the rule under test; a loaded CI machine may be slow to start the others.
QUIET = ["health.input_bitrate_min_kbps=0", "health.input_framerate_min=0", "health.realtime_factor_min=0",
         "health.audio_silence_db=-200", "health.input_lost_hold_s=600",
         "health.input_keyframe_interval_max_s=4", "health.input_keyframe_interval_hold_s=1"]


def long_gop_clip(path, seconds=24, rate=60, gop_s=10):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={rate}:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=48000:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-g", str(rate * gop_s), "-keyint_min", str(rate * gop_s), "-sc_threshold", "0",
                    "-c:a", "aac", "-b:a", "64k", path], check=True, timeout=120)


def metrics(relay):
    return parse(relay.get("/metrics").decode())


def keyframe_alert(relay):
    return [a for a in json.loads(relay.get("/api/health"))["alerts"] if a["rule"] == "keyframe_interval"]


def file_input(args, c, tmp):
    clip = os.path.join(tmp, "long-gop-60fps.mp4")
    long_gop_clip(clip)
    with Relay(args.binary, args.source_dir, LIGHT + QUIET + [f"ingest.source=file://{clip}"]) as relay:
        relay.wait_for_segments("360p", 2)
        m = relay.wait_for(
            lambda: (lambda m: m if (value(m, "seminar_relay_input_keyframe_interval_seconds", role="primary") or 0)
                     >= 9.5 else None)(metrics(relay)), 40, "a 10 s keyframe interval on /metrics")
        interval = value(m, "seminar_relay_input_keyframe_interval_seconds", role="primary")
        c.check(9.5 <= interval <= 10.5, f"the input's keyframes are 10 s apart ({interval} s)")
        dropped = value(m, "seminar_relay_input_frames_dropped_total", role="primary")
        duplicated = value(m, "seminar_relay_input_frames_duplicated_total", role="primary")
        late = value(m, "seminar_relay_input_frames_late_total", role="primary")
        # 60 frames a second into a 30 fps ladder: every other one goes, for 10 s and more.
        c.check(dropped is not None and dropped >= 250, f"the normaliser's dropped frames are counted ({dropped})")
        c.check(duplicated is not None and duplicated < dropped / 10,
                f"few frames repeated on a steady input ({duplicated})")
        c.check(late is not None and late >= 0, f"late frames are counted ({late})")

        alert = relay.wait_for(lambda: keyframe_alert(relay), 10, "the keyframe interval alert")
        c.check("s apart, more than 4.0 s" in alert[0]["message"], f"the alert says how far apart ({alert})")
        h = json.loads(relay.get("/api/health"))
        c.check(h["status"] == "degraded", f"a long GOP degrades the stream ({h['status']} {h['reasons']})")
        i = h["ingest"]["inputs"][0]
        c.check(i["keyframe_interval_s"] is not None and i["keyframe_interval_s"] >= 9.5,
                f"/api/health has the input's keyframe interval ({i['keyframe_interval_s']})")
        c.check(all(isinstance(i[k], int) for k in ("frames_dropped", "frames_duplicated", "frames_late"))
                and i["frames_dropped"] >= dropped, f"/api/health has the input's frame counts ({i})")
        c.check(value(metrics(relay), "seminar_relay_alert_firing", rule="keyframe_interval") == 1,
                "alert_firing{rule=keyframe_interval} is 1")


def srt_input(args, c):
    port = udp_port()
    url = f"srt://127.0.0.1:{port}?pkt_size=1316"
    overrides = LIGHT + QUIET + [f"ingest.source=srt://127.0.0.1:{port}?mode=listener"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        sender = Sender(sender_cmd(url, color="white", extra=["-g", "300", "-keyint_min", "300", "-sc_threshold", "0"]),
                        name="long-gop")
        try:
            relay.wait_for_segments("360p", 2)
            alert = relay.wait_for(lambda: keyframe_alert(relay), 30, "the keyframe interval alert on SRT")
            c.check(bool(alert), f"an SRT sender with a 10 s GOP fires the alert ({alert})")
            m = relay.wait_for(
                lambda: (lambda m: m if (value(m, "seminar_relay_input_keyframe_interval_seconds", role="primary")
                                          or 0) >= 9.5 else None)(metrics(relay)), 20, "a 10 s interval over SRT")
            interval = value(m, "seminar_relay_input_keyframe_interval_seconds", role="primary")
            c.check(9.5 <= interval <= 10.5, f"the SRT input's keyframes are 10 s apart ({interval} s)")
        finally:
            sender.stop()
        # The operator fixes the encoder: a keyframe a second.
        sender = Sender(sender_cmd(url, color="white", extra=["-g", "30"]), name="short-gop")
        try:
            relay.wait_for(
                lambda: (lambda m: m if 0 < (value(m, "seminar_relay_input_keyframe_interval_seconds", role="primary")
                                             or 99) <= 1.5 else None)(metrics(relay)), 30, "a 1 s interval")
            relay.wait_for(lambda: not keyframe_alert(relay), 15, "the keyframe alert to resolve")
            c.check(True, "a sender with a 1 s GOP resolves the alert")
            m = metrics(relay)
            c.check(value(m, "seminar_relay_alert_firing", rule="keyframe_interval") == 0,
                    "alert_firing{rule=keyframe_interval} is back to 0")
        finally:
            sender.stop()


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="health-input-")
    file_input(args, c, tmp)
    srt_input(args, c)
    c.finish()


if __name__ == "__main__":
    main()
