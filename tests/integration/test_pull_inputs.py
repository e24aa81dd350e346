#!/usr/bin/env python3
"""Pulled inputs: an IP camera over RTSP (a gst-rtsp-server "camera" behind a
login, built in tests/tools), an RTMP stream (ffmpeg serving FLV with
-listen 1) and an SRT encoder in listener mode that the relay calls. The relay pulls each, keeps the password out of logs and health,
and reconnects by itself when the camera goes away and comes back."""
import json
import os
import subprocess
import tempfile
import time

from ingest_peers import SLATE, Sender, newest_segment_luma, sender_cmd, udp_port
from relay_harness import LIGHT, Checks, Relay, free_port, parse_args

CAMERA = ("( videotestsrc is-live=true pattern=white ! video/x-raw,width=640,height=360,framerate=30/1 "
          "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 ! rtph264pay name=pay0 pt=96 "
          "audiotestsrc is-live=true wave=sine ! audioconvert ! avenc_aac ! rtpmp4gpay name=pay1 pt=97 )")


class Camera:
    def __init__(self, port):
        server = os.environ.get("RELAY_RTSP_SERVER")
        if not server or not os.path.exists(server):
            raise SystemExit(f"RELAY_RTSP_SERVER must name the built rtsp_test_server (got {server!r})")
        self.proc = subprocess.Popen([server, str(port), "/hall", CAMERA, "viewer:s3cret-pw"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise AssertionError(f"the RTSP camera did not start: {line}")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def state(relay):
    return json.loads(relay.get("/api/health"))["ingest"]


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="pull-")

    port = free_port()
    camera = Camera(port)
    uri = f"rtsp://viewer:s3cret-pw@127.0.0.1:{port}/hall"
    with Relay(args.binary, args.source_dir, LIGHT + SLATE + [f"ingest.source={uri}", "ingest.reconnect_max_s=2"]) as relay:
        relay.wait_for(lambda: state(relay)["state"] == "live", 30, "the RTSP camera to go live")
        relay.wait_for_segments("360p", 2)
        relay.wait_for_new_segments("360p")
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(luma > 200, f"RTSP: the camera's white picture is on air (mean luma {luma:.0f})")
        ingest = state(relay)
        primary = ingest["inputs"][0]
        c.check(primary["width"] == 640 and primary["height"] == 360, f"RTSP: input size measured {primary}")
        c.check(primary["bitrate_kbps"] and primary["bitrate_kbps"] > 1, f"RTSP: input bitrate measured {primary}")
        c.check(primary["audio_channels"] >= 1, f"RTSP: the camera's sound is taken {primary}")
        c.check(primary["uri"] == f"rtsp://***@127.0.0.1:{port}/hall", f"RTSP: password hidden: {primary['uri']}")
        c.check("s3cret" not in json.dumps(ingest), "RTSP: the password is nowhere in /api/health")

        camera.stop()
        relay.wait_for(lambda: state(relay)["state"] == "slate", 10, "the slate once the camera is gone")
        time.sleep(5)
        c.check(relay.proc.poll() is None, "RTSP: the relay outlives its camera")
        ingest = state(relay)
        c.check(ingest["inputs"][0]["reconnects"] >= 1, f"RTSP: reconnects while the camera is away: {ingest['inputs'][0]}")
        c.check(ingest["inputs"][0]["last_error"] != "", "RTSP: the last error is reported")
        camera = Camera(port)
        back = time.monotonic()
        relay.wait_for(lambda: state(relay)["state"] == "live", 20, "the camera to be live again")
        print(f"RTSP: live again {time.monotonic() - back:.1f} s after the camera returned", flush=True)
        relay.wait_for_new_segments("360p")
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(luma > 200, f"RTSP: the camera's picture is back (mean luma {luma:.0f})")
        c.check("s3cret" not in relay.log_text(), "RTSP: the password never reaches the log")
    camera.stop()

    port = free_port()
    url = f"rtmp://127.0.0.1:{port}/live/hall"
    server = Sender(sender_cmd(url, color="white", fmt="flv", extra=["-listen", "1"]), "rtmp-server")
    time.sleep(1)
    with Relay(args.binary, args.source_dir, LIGHT + SLATE + [f"ingest.source={url}", "ingest.reconnect_max_s=2"]) as relay:
        relay.wait_for(lambda: state(relay)["state"] == "live", 30, "the RTMP stream to go live")
        relay.wait_for_segments("360p", 2)
        relay.wait_for_new_segments("360p")
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(luma > 200, f"RTMP: the stream's picture is on air (mean luma {luma:.0f})")
        primary = state(relay)["inputs"][0]
        c.check(primary["width"] == 640 and primary["audio_channels"] >= 1, f"RTMP: input measured {primary}")
    server.stop()

    # SRT caller: the encoder listens (as many hardware encoders do), the relay calls
    # it, and calls again after the encoder restarts.
    port = udp_port()
    encoder_url = f"srt://127.0.0.1:{port}?mode=listener&pkt_size=1316"
    encoder = Sender(sender_cmd(encoder_url, color="white"), "srt-encoder")
    overrides = LIGHT + SLATE + [f"ingest.source=srt://127.0.0.1:{port}", "ingest.reconnect_max_s=1"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        relay.wait_for(lambda: state(relay)["state"] == "live", 30, "the relay to call the SRT encoder")
        relay.wait_for_segments("360p", 2)
        relay.wait_for_new_segments("360p")
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(luma > 200, f"SRT caller: the encoder's picture is on air (mean luma {luma:.0f})")
        encoder.stop()
        relay.wait_for(lambda: state(relay)["state"] == "slate", 15, "the slate once the encoder is gone")
        encoder = Sender(sender_cmd(encoder_url, color="white"), "srt-encoder")
        relay.wait_for(lambda: state(relay)["state"] == "live", 30, "the relay to call the encoder again")
        c.check(state(relay)["inputs"][0]["reconnects"] >= 1, "SRT caller: reconnected after the encoder restarted")
    encoder.stop()
    c.finish()


if __name__ == "__main__":
    main()
