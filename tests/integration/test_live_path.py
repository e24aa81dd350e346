"""The live path end to end on the real binary with the built-in test source:
master and media playlists, segments that decode with an IDR first and aligned
across renditions, BANDWIDTH against measured segments, a real HLS client, health."""
import datetime
import re
import os
import subprocess
import tempfile
import time

from relay_harness import (LIGHT, Checks, Relay, ffprobe_frames, master_variants, media_segments, parse_args,
                           tag_value)

EXPECTED = {"360p": (640, 360, "64"), "240p": (426, 240, "4d"), "180p": (320, 180, "42")}


def sps_codec(init):
    """avc1.PPCCLL from the first SPS in the init section's avcC box."""
    at = init.index(b"avcC") + 4
    sps_len = int.from_bytes(init[at + 6:at + 8], "big")
    sps = init[at + 8:at + 8 + sps_len]
    assert sps[0] & 0x1F == 7, "avcC does not hold an SPS"
    return "avc1." + sps[1:4].hex()


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="live-path-")
    with Relay(args.binary, args.source_dir, LIGHT) as relay:
        first = relay.wait_for_segments("360p", 1)
        c.check(first[0][0] == 1, f"media sequence starts at 1 (got {first[0][0]})")
        for name in EXPECTED:
            relay.wait_for_segments(name, 4)

        # Media playlists: target duration rule, PDT, advancing, never going back.
        playlists = {n: relay.get(f"/live/{n}/index.m3u8").decode() for n in EXPECTED}
        for name, text in playlists.items():
            target = int(tag_value(text, "#EXT-X-TARGETDURATION"))
            segs = media_segments(text)
            c.check(all(round(d) <= target for _, d, _, _ in segs), f"{name}: every rounded EXTINF <= {target}")
            c.check(all(abs(d - 2.0) < 0.05 for _, d, _, _ in segs), f"{name}: segments last 2 s: {segs}")
            c.check(all(p for *_, p in segs), f"{name}: PDT on every segment")
            pdts = [datetime.datetime.fromisoformat(p.replace("Z", "+00:00")).timestamp() for *_, p in segs]
            c.check(all(abs((b - a) - 2.0) < 0.05 for a, b in zip(pdts, pdts[1:])), f"{name}: PDT steps of 2 s")
            c.check(abs(time.time() - pdts[-1]) < 10, f"{name}: PDT is the wall clock ({pdts[-1]} vs {time.time()})")
            c.check(re.search(r'#EXT-X-MAP:URI="init-[0-9a-f]{12}\.mp4"', text) is not None,
                    f"{name}: EXT-X-MAP names the init section by its content")

        before = {n: media_segments(t)[-1][0] for n, t in playlists.items()}
        deadline = time.monotonic() + 4.5  # two 2 s segments, with room
        while (time.monotonic() < deadline
               and any(relay.newest_msn(n) < before[n] + 2 for n in EXPECTED)):
            time.sleep(0.1)
        for name in EXPECTED:
            text = relay.get(f"/live/{name}/index.m3u8").decode()
            segs = media_segments(text)
            c.check(segs[-1][0] >= before[name] + 2, f"{name}: playlist advanced ({before[name]} -> {segs[-1][0]})")
            c.check(segs[0][0] >= 1, f"{name}: media sequence never below 1")

        # Newest segment of each rendition: decodes at the configured size, IDR first.
        # The first PTS of the same segment number is equal across renditions.
        common_msn = min(media_segments(relay.get(f"/live/{n}/index.m3u8").decode())[-1][0] for n in EXPECTED)
        first_pts = {}
        for name, (w, h, _) in EXPECTED.items():
            init = relay.init_section(name)
            seg = relay.segment(name, common_msn)
            path = os.path.join(tmp, f"{name}.mp4")
            with open(path, "wb") as f:
                f.write(init + seg)
            frames = ffprobe_frames(path)
            c.check(len(frames) >= 55, f"{name}: segment has ~60 frames (got {len(frames)})")
            c.check(frames[0]["pict_type"] == "I" and frames[0]["key_frame"] == 1, f"{name}: first frame is an IDR")
            c.check((frames[0]["width"], frames[0]["height"]) == (w, h),
                    f"{name}: decoded size {frames[0]['width']}x{frames[0]['height']} == {w}x{h}")
            first_pts[name] = float(frames[0]["pts_time"])
        c.check(len(set(first_pts.values())) == 1, f"segment {common_msn} starts at the same PTS: {first_pts}")

        # Master: every rendition with its attributes; BANDWIDTH >= every measured segment.
        peaks = {}
        for name in EXPECTED:
            segs = media_segments(relay.get(f"/live/{name}/index.m3u8").decode())
            rates = []
            for msn, dur, uri, _ in segs:
                status, _, body = relay.request(f"/live/{name}/{uri}")
                if status == 200:
                    rates.append(len(body) * 8 / dur)
            peaks[name] = max(rates)
        master = relay.get("/live/master.m3u8").decode()
        variants = master_variants(master)
        c.check([uri for _, uri in variants] == [f"{n}/index.m3u8" for n in EXPECTED], f"master lists {variants}")
        for attrs, uri in variants:
            name = uri.split("/")[0]
            w, h, profile = EXPECTED[name]
            c.check(attrs.get("RESOLUTION") == f"{w}x{h}", f"{name}: RESOLUTION {attrs.get('RESOLUTION')}")
            c.check(abs(float(attrs.get("FRAME-RATE", 0)) - 30) < 0.01, f"{name}: FRAME-RATE {attrs.get('FRAME-RATE')}")
            codecs = attrs.get("CODECS", "").split(",")
            sps = sps_codec(relay.init_section(name))
            c.check(codecs == [sps, "mp4a.40.2"], f"{name}: CODECS {codecs} match the init's SPS {sps}")
            c.check(int(sps[5:7], 16) <= int(profile, 16), f"{name}: profile {sps} within the configured one")
            bw, avg = int(attrs["BANDWIDTH"]), int(attrs["AVERAGE-BANDWIDTH"])
            c.check(bw >= peaks[name], f"{name}: BANDWIDTH {bw} >= measured peak {peaks[name]:.0f}")
            c.check(0 < avg <= bw, f"{name}: 0 < AVERAGE-BANDWIDTH {avg} <= BANDWIDTH")

        # A real client: ffmpeg reads the master and decodes 8 s without an error.
        r = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i",
                            f"http://127.0.0.1:{relay.port}/live/master.m3u8", "-t", "8", "-f", "null", "-"],
                           capture_output=True, text=True, timeout=90)
        c.check(r.returncode == 0, f"ffmpeg client exits 0 (got {r.returncode}: {r.stderr[-500:]})")

        import json
        health = json.loads(relay.get("/api/health"))
        c.check(health["ingest"]["state"] == "live", f"health says live: {health['ingest']}")
        c.check(health["status"] == "ok", f"health status ok: {health.get('status')} {health.get('reasons')}")
        ages = {r["name"]: r["last_segment_age_s"] for r in health["renditions"]}
        c.check(set(ages) == set(EXPECTED) and all(a is not None and a < 6 for a in ages.values()),
                f"each rendition's last-segment age is fresh: {ages}")
        c.check(relay.stop() == 0, "relay exits 0 on SIGTERM")
    c.finish()


if __name__ == "__main__":
    main()
