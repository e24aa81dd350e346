"""A file:// source made with ffmpeg: decoded once, looped and paced in real time,
keyframe-aligned ladder output a real client plays; a file without loop ends and
the edge keeps serving; a 25 fps file comes out at the ladder's 30 fps."""
import json
import os
import subprocess
import tempfile
import time

from relay_harness import (LIGHT, Checks, Relay, ffprobe_frames, make_clip, master_variants, mean_luma,
                           media_segments, parse_args)


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="file-source-")
    clip = os.path.join(tmp, "clip 25fps.mp4")  # a space in the name: the URI must be encoded
    make_clip(clip, seconds=3, size="1280x720", rate=25)

    with Relay(args.binary, args.source_dir, LIGHT + [f"ingest.source=file://{clip}"]) as relay:
        started = time.time()
        # 6 segments = 12 s of output from a 3 s clip: it looped, in real time.
        segs = relay.wait_for_segments("360p", 6, timeout=60)
        elapsed = time.time() - started
        c.check(elapsed >= 9, f"paced in real time: 12 s of media took {elapsed:.1f} s")
        c.check([s[0] for s in segs] == list(range(segs[0][0], segs[0][0] + len(segs))), "consecutive msn")
        c.check(all(abs(d - 2.0) < 0.05 for _, d, _, _ in segs), f"2 s segments across loops: {segs}")
        health = json.loads(relay.get("/api/health"))
        c.check(health["ingest"]["state"] == "live", f"still live after looping: {health['ingest']}")
        c.check("looping" in relay.log_text(), "the loop is logged")

        for name in ("360p", "180p"):
            msn = media_segments(relay.get(f"/live/{name}/index.m3u8").decode())[-1][0]
            path = os.path.join(tmp, f"{name}.mp4")
            with open(path, "wb") as f:
                f.write(relay.init_section(name) + relay.segment(name, msn))
            frames = ffprobe_frames(path)
            c.check(frames and frames[0]["pict_type"] == "I", f"{name}: newest segment starts with an IDR")
            c.check(58 <= len(frames) <= 62, f"{name}: 25 fps input comes out at 30 fps ({len(frames)} frames / 2 s)")
            luma = mean_luma(path)
            c.check(luma > 40, f"{name}: after looping the picture is the file's, not black (mean luma {luma:.0f})")
        variants = master_variants(relay.get("/live/master.m3u8").decode())
        c.check(len(variants) == 3, "master lists the three renditions")

        r = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i",
                            f"http://127.0.0.1:{relay.port}/live/master.m3u8", "-t", "6", "-f", "null", "-"],
                           capture_output=True, text=True, timeout=90)
        c.check(r.returncode == 0, f"ffmpeg client exits 0 ({r.returncode}: {r.stderr[-400:]})")

    # A file without sound loops on its video's end too (no pipeline-wide EOS comes).
    silent = os.path.join(tmp, "silent.mp4")
    make_clip(silent, seconds=2, size="640x360", rate=30, audio=False)
    with Relay(args.binary, args.source_dir, LIGHT + [f"ingest.source=file://{silent}"]) as relay:
        segs = relay.wait_for_segments("360p", 4, timeout=60)
        path = os.path.join(tmp, "silent-out.mp4")
        with open(path, "wb") as f:
            f.write(relay.init_section("360p") + relay.segment("360p", segs[-1][0]))
        luma = mean_luma(path)
        c.check(luma > 40, f"a file without sound loops: picture after 8 s is not black (mean luma {luma:.0f})")
        c.check(relay.log_text().count("looping") >= 2, "the silent file looped")

    # Without looping the source ends; that is reported and the edge keeps serving.
    short = os.path.join(tmp, "short.mp4")
    make_clip(short, seconds=3, size="640x360", rate=30)
    with Relay(args.binary, args.source_dir, LIGHT + [f"ingest.source=file://{short}", "ingest.loop=false"]) as relay:
        def ended():
            h = json.loads(relay.get("/api/health"))
            return h if h["ingest"]["state"] == "ended" else None
        health = relay.wait_for(ended, 30, "the source to be reported ended")
        c.check(health["status"] != "ok", f"health is not ok once the source ended: {health['status']}")
        c.check(relay.request("/live/master.m3u8")[0] == 200, "master still served after the source ended")
        c.check(relay.request("/")[0] == 200, "page still served after the source ended")
        c.check("source ended" in relay.log_text(), "the end is logged")
        c.check(relay.proc.poll() is None, "relay still running")
    c.finish()


if __name__ == "__main__":
    main()
