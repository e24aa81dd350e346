"""The MP4 download's remux on the relay's real segments: the init and five
consecutive 1 s segments of a live rendition (picture and sound muxed) become,
with `seminar-relay remux-mp4`, one MP4 with its moov before the mdat that
ffprobe and ffmpeg read without error, with every frame and the segments'
duration; two runs of the relay (a restart, a new init) make one MP4 whose
duration is the sum; 64-bit offsets play too; a cut segment gives a clear error."""
import json
import os
import struct
import subprocess
import tempfile

from relay_harness import Checks, Relay, init_name, media_segments, parse_args

LADDER = '[{name="180p",width=320,height=180,bitrate_kbps=200,profile="baseline"}]'
OVERRIDES = ["ingest.width=320", "ingest.height=180", "encoder.preset=ultrafast", f"encoder.renditions={LADDER}",
             "hls.segment_duration_s=1.0"]
FRAME_S = 1 / 30
SEGMENTS = 5


def top_level_boxes(path):
    """[(type, offset, size)] of a file's top-level boxes."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[off:off + 8])
        if size == 1:
            size = struct.unpack(">Q", data[off + 8:off + 16])[0]
        elif size == 0:
            size = len(data) - off
        out.append((kind.decode("latin-1"), off, size))
        if size < 8:
            break
        off += size
    return out


def ffprobe(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
                        "format=duration:stream=codec_type,nb_read_packets", "-of", "json", path],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"ffprobe failed on {path}: {r.stderr[-400:]}")
    info = json.loads(r.stdout)
    packets = {s["codec_type"]: int(s["nb_read_packets"]) for s in info["streams"]}
    return float(info["format"]["duration"]), packets


def plays(path):
    r = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i", path, "-f", "null", "-"],
                       capture_output=True, text=True, timeout=120)
    return r.returncode == 0, r.stderr[-400:]


def fetch_run(relay, folder, tag, count):
    """The init and `count` consecutive segments of 180p, as files: (init, [segment paths], [durations],
    video frames in them)."""
    relay.wait_for_segments("180p", count + 1)
    text = relay.get("/live/180p/index.m3u8").decode()
    segs = media_segments(text)[-count:]
    init = os.path.join(folder, f"init-{tag}.mp4")
    with open(init, "wb") as f:
        f.write(relay.get(f"/live/180p/{init_name(text)}"))
    paths, frames = [], 0
    for msn, _, uri, _ in segs:
        path = os.path.join(folder, f"{tag}-{msn}.m4s")
        with open(path, "wb") as f:
            f.write(relay.get(f"/live/180p/{uri}"))
        paths.append(path)
        # The segment alone, behind its init, as a player reads it: its frame count.
        whole = os.path.join(folder, "alone.mp4")
        with open(whole, "wb") as f, open(init, "rb") as i, open(path, "rb") as s:
            f.write(i.read() + s.read())
        frames += ffprobe(whole)[1].get("video", 0)
    return init, paths, [d for _, d, _, _ in segs], frames


def remux(binary, out, *runs, extra=()):
    cmd = [binary, "remux-mp4", "--out", out, *extra]
    for init, segments in runs:
        cmd += ["--init", init, *segments]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def check_mp4(c, path, what, expected_s, expected_frames):
    boxes = [b for b in top_level_boxes(path)]
    kinds = [k for k, _, _ in boxes]
    c.check(kinds[:1] == ["ftyp"] and "moov" in kinds and "mdat" in kinds
            and kinds.index("moov") < kinds.index("mdat"), f"{what}: moov before mdat ({kinds})")
    c.check(sum(size for _, _, size in boxes) == os.path.getsize(path), f"{what}: boxes fill the file")
    duration, packets = ffprobe(path)
    c.check(abs(duration - expected_s) <= FRAME_S + 0.001,
            f"{what}: duration {duration:.3f} s is the segments' {expected_s:.3f} s within a frame")
    c.check(packets.get("video") == expected_frames, f"{what}: {packets.get('video')} video frames of {expected_frames}")
    c.check(packets.get("audio", 0) > 0, f"{what}: a sound track ({packets})")
    ok, err = plays(path)
    c.check(ok, f"{what}: ffmpeg -xerror decodes it all ({err})")


def main():
    args = parse_args()
    c = Checks()
    folder = tempfile.mkdtemp(prefix="mp4-remux-")
    with Relay(args.binary, args.source_dir, OVERRIDES) as relay:
        first = fetch_run(relay, folder, "1", SEGMENTS)
    c.check(all(abs(d - 1.0) < 0.05 for d in first[2]), f"1 s segments: {first[2]}")

    out = os.path.join(folder, "one-run.mp4")
    r = remux(args.binary, out, (first[0], first[1]))
    c.check(r.returncode == 0 and "one-run.mp4" in r.stdout, f"remux-mp4 exits 0 ({r.returncode}: {r.stderr})")
    if r.returncode == 0:
        check_mp4(c, out, "one run", sum(first[2]), first[3])

    # 64-bit chunk offsets and mdat size: the same media, the large-file layout.
    wide = os.path.join(folder, "wide.mp4")
    r = remux(args.binary, wide, (first[0], first[1]), extra=["--large-offsets"])
    c.check(r.returncode == 0, f"remux-mp4 --large-offsets exits 0 ({r.stderr})")
    if r.returncode == 0:
        with open(wide, "rb") as f:
            c.check(b"co64" in f.read(), "co64 in the large-offset file")
        check_mp4(c, wide, "64-bit offsets", sum(first[2]), first[3])

    # A restart: a new run, with its own init, whose clock starts again.
    with Relay(args.binary, args.source_dir, OVERRIDES) as relay:
        second = fetch_run(relay, folder, "2", 3)
    joined = os.path.join(folder, "two-runs.mp4")
    r = remux(args.binary, joined, (first[0], first[1]), (second[0], second[1]))
    c.check(r.returncode == 0, f"remux-mp4 of two runs exits 0 ({r.stderr})")
    if r.returncode == 0:
        check_mp4(c, joined, "two runs", sum(first[2]) + sum(second[2]), first[3] + second[3])

    # A segment cut short by a crash: a clear error, no file.
    with open(first[1][-1], "rb") as f:
        data = f.read()
    cut = os.path.join(folder, "cut.m4s")
    with open(cut, "wb") as f:
        f.write(data[:len(data) // 2])
    bad_out = os.path.join(folder, "bad.mp4")
    r = remux(args.binary, bad_out, (first[0], first[1][:-1] + [cut]))
    c.check(r.returncode == 1 and "cut.m4s" in r.stderr and "truncated" in r.stderr,
            f"a cut segment: exit 1 naming it ({r.returncode}: {r.stderr.strip()})")
    c.check(not os.path.exists(bad_out) and not os.path.exists(bad_out + ".tmp"), "no file after an error")
    r = subprocess.run([args.binary, "remux-mp4", "--out", bad_out, first[1][0]], capture_output=True, text=True,
                       timeout=30)
    c.check(r.returncode == 2 and "before any --init" in r.stderr, f"usage error: exit 2 ({r.stderr.strip()})")
    c.finish()


if __name__ == "__main__":
    main()
