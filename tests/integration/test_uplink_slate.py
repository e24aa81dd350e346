"""A cloud relay (ingest.source = "push:") shows its own slate when its uplink is
lost, as a relay shows it for a lost camera, and returns by itself. A hall relay
on `test:` (LIGHT ladder) pushes to the cloud; the hall is stopped (SIGSTOP) for
longer than the cloud's uplink timeout + ingest.slate_after_s: the cloud's
playlists advance again after an EXT-X-DISCONTINUITY with segments whose picture
is the slate colour, and its health says `slate`; the hall continues (SIGCONT):
after another EXT-X-DISCONTINUITY the cloud serves the pushed picture again and
its ingest is live. Names are taken from the playlists."""
import json
import os
import re
import signal
import tempfile

from relay_harness import LIGHT, Checks, Relay, free_port, mean_luma, media_segments, parse_args

RENDITIONS = ("360p", "240p", "180p")
PUSH_TOKEN = "uplink-test-token-0123456789abcdef"
SLATE_LUMA_MIN = 190  # the slate is white (#ffffff, luma ~235) under a small shaded text box


def playlist(relay, name):
    return relay.get(f"/live/{name}/index.m3u8").decode()


def detail(relay):
    return json.loads(relay.get("/api/health"))


def discontinuities(text):
    """Discontinuities so far: the sequence of the first listed plus the tags listed."""
    m = re.search(r"#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)", text)
    return (int(m.group(1)) if m else 0) + text.count("#EXT-X-DISCONTINUITY\n")


def newest_after_discontinuity(text):
    """(map uri, segment uri) of the newest complete segment when it follows the
    playlist's last EXT-X-DISCONTINUITY; None when none has completed since."""
    tail = text.rsplit("#EXT-X-DISCONTINUITY\n", 1)
    if len(tail) < 2:
        return None
    segs = media_segments("#EXT-X-MEDIA-SEQUENCE:0\n" + tail[1])
    if not segs:
        return None
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text.split("\n" + segs[-1][2] + "\n", 1)[0])
    return (maps[-1] if maps else None), segs[-1][2]


def picture_luma(relay, name, init_uri, seg_uri, workdir):
    path = os.path.join(workdir, f"{name}-{seg_uri}.mp4")
    with open(path, "wb") as f:
        f.write(relay.get(f"/live/{name}/{init_uri}"))
        f.write(relay.get(f"/live/{name}/{seg_uri}"))
    luma = mean_luma(path)
    print(f"{name} {seg_uri}: mean luma {luma:.0f}", flush=True)
    return luma


def wait_for_segment_after(c, cloud, name, count, timeout, what):
    """The newest complete segment after the `count`th discontinuity, as (map, uri)."""
    def ready():
        text = playlist(cloud, name)
        return newest_after_discontinuity(text) if discontinuities(text) >= count else None
    try:
        found = cloud.wait_for(ready, timeout, what)
        c.check(True, f"{name}: {what}")
        return found
    except AssertionError as e:
        c.check(False, f"{name}: {what}: {str(e)[:300]}")
        return None


def main():
    args = parse_args()
    c = Checks()
    cloud_port = free_port()
    cloud_overrides = LIGHT + [
        "ingest.source=push:", f'ingest.push_tokens=["{PUSH_TOKEN}"]',
        'ingest.slate_color="#ffffff"', "ingest.slate_after_s=1",
    ]
    hall_overrides = LIGHT + [
        "ingest.source=test:",
        f"uplink.url=http://127.0.0.1:{cloud_port}/ingest", f"uplink.token={PUSH_TOKEN}", "uplink.timeout_s=1",
    ]
    with tempfile.TemporaryDirectory() as workdir, \
            Relay(args.binary, args.source_dir, cloud_overrides, port=cloud_port) as cloud, \
            Relay(args.binary, args.source_dir, hall_overrides) as hall:
        for name in RENDITIONS:
            cloud.wait_for_segments(name, 2, timeout=60)
        cloud.wait_for(lambda: detail(cloud)["ingest"]["state"] == "live", 20, "the cloud live")
        before = {name: discontinuities(playlist(cloud, name)) for name in RENDITIONS}
        segs = media_segments(playlist(cloud, "360p"))
        pushed_luma = picture_luma(cloud, "360p", re.findall(r'#EXT-X-MAP:URI="([^"]+)"', playlist(cloud, "360p"))[-1],
                                   segs[-1][2], workdir)
        c.check(pushed_luma < SLATE_LUMA_MIN - 20, f"the pushed picture is not the slate (mean luma {pushed_luma:.0f})")

        os.kill(hall.proc.pid, signal.SIGSTOP)
        try:
            state = cloud.wait_for(lambda: (lambda h: h if h["ingest"]["state"] == "slate" else None)(detail(cloud)),
                                   20, "the cloud's ingest on the slate")
            c.check(state["ingest"]["output"] == "slate" and state["uplink"]["state"] == "lost",
                    f"the cloud's health shows the slate with the uplink lost ({state['ingest']['state']}, "
                    f"{state['ingest']['output']}, {state['uplink']['state']})")
            for name in RENDITIONS:
                found = wait_for_segment_after(c, cloud, name, before[name] + 1, 30,
                                               "the playlist advances after a DISCONTINUITY during the outage")
                if found and found[0]:
                    luma = picture_luma(cloud, name, found[0], found[1], workdir)
                    c.check(luma >= SLATE_LUMA_MIN, f"{name}: the new segment shows the slate (mean luma {luma:.0f})")
            text = playlist(cloud, "360p")
            c.check(len(media_segments(text)) > 0 and "#EXT-X-PROGRAM-DATE-TIME" in text.rsplit(
                "#EXT-X-DISCONTINUITY\n", 1)[-1], "the slate's segments have a PROGRAM-DATE-TIME")
        finally:
            os.kill(hall.proc.pid, signal.SIGCONT)

        for name in RENDITIONS:
            found = wait_for_segment_after(c, cloud, name, before[name] + 2, 40,
                                           "the pushed picture returns after another DISCONTINUITY")
            if found and found[0]:
                luma = picture_luma(cloud, name, found[0], found[1], workdir)
                c.check(luma < SLATE_LUMA_MIN - 20, f"{name}: the segment after the outage is the pushed picture "
                                                    f"(mean luma {luma:.0f}, before {pushed_luma:.0f})")
        try:
            cloud.wait_for(lambda: detail(cloud)["ingest"]["state"] == "live", 20, "the cloud live again")
            c.check(True, "the cloud's ingest is live again by itself")
        except AssertionError as e:
            c.check(False, f"the cloud's ingest is live again: {str(e)[:300]}")
        c.check(cloud.proc.poll() is None and hall.proc.poll() is None, "both relays still run")
    c.finish()


if __name__ == "__main__":
    main()
