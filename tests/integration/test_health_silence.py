#!/usr/bin/env python3
"""A source whose sound is silent raises the "audio silent" alert: the level
element in the ladder measures the programme sound, /metrics shows it, and
/api/health lists the alert (degraded, the picture still runs)."""
import json
import os
import subprocess
import tempfile

from prom_format import parse, value
from relay_harness import LIGHT, Checks, Relay, parse_args


def silent_clip(path, seconds=8):
    """An H.264 picture with an AAC track of digital silence."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=30:duration={seconds}",
                    "-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo:d={seconds}", "-shortest",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
                    path], check=True, timeout=120)


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="health-silence-")
    clip = os.path.join(tmp, "silent.mp4")
    silent_clip(clip)
    overrides = LIGHT + [f"ingest.source=file://{clip}", "health.audio_silence_db=-60", "health.audio_silence_hold_s=1",
                         "health.input_bitrate_min_kbps=0", "health.input_framerate_min=0",
                         "health.realtime_factor_min=0"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        relay.wait_for_segments("360p", 2)
        h = relay.wait_for(lambda: (lambda h: h if h["alerts"] else None)(json.loads(relay.get("/api/health"))), 30,
                           "an alert on the silent source")
        c.check([a["rule"] for a in h["alerts"]] == ["audio_silent"], f"the silence alert fires ({h['alerts']})")
        c.check(h["status"] == "degraded", f"silence degrades the stream ({h['status']} {h['reasons']})")
        c.check(any(r.startswith("alert audio_silent since") and "dBFS" in r for r in h["reasons"]),
                f"with the level in the reason ({h['reasons']})")
        m = parse(relay.get("/metrics").decode())
        rms = value(m, "seminar_relay_audio_rms_dbfs")
        c.check(rms is not None and rms < -60, f"the programme sound level is on /metrics ({rms} dBFS)")
        c.check(value(m, "seminar_relay_alert_firing", rule="audio_silent") == 1, "alert_firing{rule=audio_silent} is 1")
        c.check(value(m, "seminar_relay_alert_firing", rule="input_lost") == 0, "the input itself is not lost")
    c.finish()


if __name__ == "__main__":
    main()
