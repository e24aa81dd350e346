"""hls.container = mpegts on the real binary: TS segments for old players, each
decoding on its own with an IDR first, aligned across renditions, no LL tags, and
a regular client plays the master playlist."""
import os
import subprocess
import tempfile

from relay_harness import LIGHT, Checks, Relay, ffprobe_frames, master_variants, media_segments, parse_args


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="mpegts-")
    with Relay(args.binary, args.source_dir, LIGHT + ["hls.container=mpegts"]) as relay:
        for name in ("360p", "240p", "180p"):
            relay.wait_for_segments(name, 3)
        text = relay.get("/live/360p/index.m3u8").decode()
        c.check("#EXT-X-MAP" not in text and "#EXT-X-PART" not in text, "no EXT-X-MAP or parts in a TS playlist")
        segs = media_segments(text)
        c.check(all(uri.endswith(".ts") for _, _, uri, _ in segs), f"segment URIs end in .ts: {segs}")
        c.check(all(abs(d - 2.0) < 0.05 for _, d, _, _ in segs), "2 s segments")
        msn = min(media_segments(relay.get(f"/live/{n}/index.m3u8").decode())[-1][0] for n in ("360p", "180p"))
        first_pts = {}
        for name, size in (("360p", (640, 360)), ("180p", (320, 180))):
            status, headers, body = relay.request(relay.segment_path(name, msn, "ts"))
            c.check(status == 200 and headers.get("content-type") == "video/mp2t", f"{name}: video/mp2t ({status})")
            c.check(len(body) % 188 == 0 and body[:1] == b"\x47", f"{name}: whole TS packets")
            path = os.path.join(tmp, f"{name}.ts")
            with open(path, "wb") as f:
                f.write(body)
            frames = ffprobe_frames(path)
            c.check(frames and frames[0]["pict_type"] == "I", f"{name}: segment decodes alone, IDR first")
            c.check(frames and (frames[0]["width"], frames[0]["height"]) == size, f"{name}: size {size}")
            first_pts[name] = frames[0]["pts_time"] if frames else None
        c.check(len(set(first_pts.values())) == 1, f"segment {msn} starts at the same PTS: {first_pts}")
        codecs = [a.get("CODECS") for a, _ in master_variants(relay.get("/live/master.m3u8").decode())]
        c.check(len(codecs) == 3 and all(x and x.startswith("avc1.") and x.endswith(",mp4a.40.2") for x in codecs),
                f"master CODECS from the stream: {codecs}")
        r = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i",
                            f"http://127.0.0.1:{relay.port}/live/master.m3u8", "-t", "6", "-f", "null", "-"],
                           capture_output=True, text=True, timeout=90)
        c.check(r.returncode == 0, f"ffmpeg client exits 0 ({r.returncode}: {r.stderr[-400:]})")
    c.finish()


if __name__ == "__main__":
    main()
