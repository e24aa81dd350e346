#!/usr/bin/env python3
"""An SRT sender (ffmpeg, as OBS would) pushes to the relay's listener, is killed
for 10 s and comes back at another resolution. The output must never stop: the
playlists keep their cadence, the slate fills the gap, a player reading the
master playlist throughout sees no error, and /api/health tells the story."""
import json
import tempfile
import time

from ingest_peers import (SLATE, Sender, Watcher, hls_reader, newest_segment_luma, segment_streams, sender_cmd,
                          timestamp_problems, udp_port)
from relay_harness import LIGHT, Checks, Relay, parse_args


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="srt-outage-")
    port = udp_port()
    url = f"srt://127.0.0.1:{port}?pkt_size=1316"
    overrides = LIGHT + SLATE + ["hls.live_window=20", f"ingest.source=srt://127.0.0.1:{port}?mode=listener"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        # With no sender yet the stream already runs, on the slate.
        relay.wait_for_segments("360p", 2, timeout=40)
        h = json.loads(relay.get("/api/health"))
        c.check(h["ingest"]["state"] == "waiting", f"no sender yet: waiting ({h['ingest']['state']})")
        c.check(h["status"] == "down", f"health is down while waiting for the input ({h['status']})")
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(100 < luma < 150, f"the slate is on before any input (mean luma {luma:.0f}, slate grey ≈ 126)")

        sender = Sender(sender_cmd(url, color="white", size="640x360"))
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["state"] == "live", 20,
                       "the SRT input to go live")
        watcher = Watcher(relay, "360p")
        reader = hls_reader(relay, 40)
        time.sleep(5)
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(luma > 200, f"live: the sender's white picture is on air (mean luma {luma:.0f})")
        h = json.loads(relay.get("/api/health"))
        primary = h["ingest"]["inputs"][0]
        c.check(primary["width"] == 640 and primary["height"] == 360, f"input size measured: {primary}")
        c.check(primary["framerate"] and abs(primary["framerate"] - 30) < 1, f"input frame rate measured: {primary}")
        c.check(primary["bitrate_kbps"] and primary["bitrate_kbps"] > 5, f"input bitrate measured: {primary}")
        c.check(primary["audio_channels"] >= 1, f"input sound measured: {primary}")
        c.check("pass" not in json.dumps(h), "nothing secret in health")

        # The outage: the sender dies for 10 s.
        outage_start = time.monotonic()
        sender.stop()
        time.sleep(4)
        h = json.loads(relay.get("/api/health"))
        c.check(h["ingest"]["state"] == "slate", f"during the outage the state is slate ({h['ingest']['state']})")
        c.check(h["status"] == "down" and any("slate" in r for r in h["reasons"]),
                f"health is down with the reason: {h['status']} {h['reasons']}")
        c.check(h["ingest"]["loss_events"] == 1, f"one loss event counted ({h['ingest']['loss_events']})")
        time.sleep(2.5)
        # The newest whole segment began after the slate went on air (1.5 s after the kill).
        luma, slate_msn = newest_segment_luma(relay, "360p", tmp)
        c.check(100 < luma < 150, f"during the outage the slate is on air (mean luma {luma:.0f})")
        time.sleep(3.5)

        # Back, as a sender restarting with other settings (720p at 25 fps, stereo
        # 44.1 kHz instead of 360p30 mono 48 kHz): the ladder output does not change.
        restart = time.monotonic()
        sender = Sender(sender_cmd(url, color="white", size="1280x720", rate=25, extra=["-ac", "2", "-ar", "44100"]))
        live = relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["state"] == "live", 20,
                              "the input to be live again")
        back_after = time.monotonic() - restart
        print(f"live again {back_after:.1f} s after the sender restarted", flush=True)
        time.sleep(5)
        luma, back_msn = newest_segment_luma(relay, "360p", tmp)
        c.check(luma > 200, f"after the outage the live picture is back (mean luma {luma:.0f})")
        h = json.loads(relay.get("/api/health"))
        primary = h["ingest"]["inputs"][0]
        c.check(primary["width"] == 1280 and primary["height"] == 720, f"the new input size is measured: {primary}")
        c.check(primary["framerate"] and abs(primary["framerate"] - 25) < 1, f"the new frame rate is measured: {primary}")
        c.check(primary["audio_channels"] == 2 and primary["audio_rate"] == 44100,
                f"the new sound layout is measured: {primary}")
        out = segment_streams(relay, "360p", tmp)
        c.check(out["video"] == (640, 360) and out["frames"] == 60 and out["audio"] == (48000, 2),
                f"the ladder output is unchanged (640x360, 30 fps, 48 kHz stereo): {out}")
        c.check(primary["reconnects"] >= 1, f"the listener was rebuilt: {primary['reconnects']} reconnects")

        err = reader.communicate(timeout=60)[1]
        c.check(reader.returncode == 0, f"ffmpeg -xerror read the master playlist through the outage: "
                                        f"exit {reader.returncode} {err[-400:]}")
        watcher.stop()
        sender.stop()

        states = watcher.state_names()
        print("states:", states, flush=True)
        c.check(states[:1] == ["live"] and "slate" in states and states[-1] == "live"
                and states.index("slate") < len(states) - 1,
                f"health went live → slate → live: {states}")
        gap = watcher.largest_gap(outage_start - 5)
        print(f"largest wait between new segments around the outage: {gap:.2f} s", flush=True)
        c.check(gap <= 2.0 + 0.6, f"no gap between new segments longer than the target duration (2 s): {gap:.2f} s")
        c.check(not watcher.errors, f"every playlist and health poll succeeded: {watcher.errors[:3]}")
        seqs = watcher.media_sequences
        c.check(all(a <= b for a, b in zip(seqs, seqs[1:])), "MEDIA-SEQUENCE never went back")
        msns = [m for _, m, _, _ in watcher.arrivals]
        c.check(msns == list(range(msns[0], msns[0] + len(msns))), "segment numbers kept counting with no hole")
        pdts = [p for *_, p in watcher.arrivals]
        c.check(all(a < b for a, b in zip(pdts, pdts[1:])), "program date-time never went backwards")
        c.check(slate_msn < back_msn, "slate segments came between the live ones")
        text = relay.get("/live/360p/index.m3u8").decode()
        c.check("#EXT-X-DISCONTINUITY" not in text, "no discontinuity was needed: the encoders never restarted")
        c.check(all(d <= 2.05 for _, _, d, _ in watcher.arrivals), "every segment kept its duration")
        problems, count = timestamp_problems(relay, "360p", tmp)
        c.check(not problems, f"across {count} segments spanning live, slate and live again, video and sound "
                              f"advance by one fixed step: {problems}")
        log = relay.log_text()
        c.check("input lost" in log and "on air: slate" in log and "on air: primary" in log,
                "the loss and both switches are logged")
    c.finish()


if __name__ == "__main__":
    main()
