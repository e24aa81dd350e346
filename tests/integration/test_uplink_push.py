"""The hall uplink end to end: a hall relay on `test:` (LIGHT ladder, LL-HLS) pushes
its ladder by HTTP PUT to a cloud relay (ingest.source = "push:"), both on loopback.
The cloud relay serves the ladder (master, playlists, parts, blocking reload); the
bytes the hall pushed match the media it produced (each byte once, playlists
apart); a cloud relay that stops answering for 5 s leaves the hall retrying with
a backlog, which drains when it answers again; a hall relay stopped for 5 s
(SIGSTOP) and continued pushes on; after both, the cloud playlist advances with
parts. Object names are taken from the playlists."""
import os
import re
import signal
import time

from relay_harness import LIGHT, Checks, Relay, free_port, master_variants, media_segments, parse_args

RENDITIONS = ("360p", "240p", "180p")
PUSH_TOKEN = "uplink-test-token-0123456789abcdef"
STOP_S = 5


def part_uris(text):
    return re.findall(r'#EXT-X-PART:[^\n]*URI="([^"]+)"', text)


def map_uri(text):
    m = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
    return m[-1] if m else None


def playlist(relay, name, query=""):
    return relay.get(f"/live/{name}/index.m3u8" + (f"?{query}" if query else "")).decode()


def health(relay):
    import json
    return json.loads(relay.get("/api/health"))


def position(text):
    """(newest complete msn, parts listed after it) of a media playlist."""
    segs = media_segments(text)
    newest = segs[-1][0] if segs else 0
    tail = text.rsplit("\n" + segs[-1][2] + "\n", 1)[-1] if segs else text
    return newest, len(part_uris(tail))


def produced_media_bytes(hall):
    """Bytes of media the hall produced so far, as its playlists list it: the init
    sections, every complete segment (each the sum of its parts) and the parts of
    the segment being made. The hall keeps every segment since the start
    (hls.live_window), so nothing produced has left the playlist yet."""
    total = 0
    for name in RENDITIONS:
        text = playlist(hall, name)
        assert "#EXT-X-MEDIA-SEQUENCE:1\n" in text, "the hall's playlist no longer starts at segment 1"
        total += len(hall.get(f"/live/{name}/{map_uri(text)}"))
        segs = media_segments(text)
        for _, _, uri, _ in segs:
            total += len(hall.get(f"/live/{name}/{uri}"))
        for uri in part_uris(text.rsplit("\n" + segs[-1][2] + "\n", 1)[-1]):
            total += len(hall.get(f"/live/{name}/{uri}"))
    return total


def cloud_advances(c, cloud, what, segments=2, timeout=30):
    """The cloud playlists grow by `segments` segments, each with parts after it."""
    start = {name: position(playlist(cloud, name))[0] for name in RENDITIONS}

    def grown():
        return all(position(playlist(cloud, name))[0] >= start[name] + segments for name in RENDITIONS)
    try:
        cloud.wait_for(grown, timeout, f"cloud playlists {what}")
    except AssertionError as e:
        c.check(False, f"cloud playlists advance {what}: {str(e)[:300]}")
        return
    c.check(True, f"cloud playlists advance by {segments} segments {what}")
    text = playlist(cloud, "360p")
    c.check(len(part_uris(text)) > 0, f"cloud 360p lists LL-HLS parts {what}")


def main():
    args = parse_args()
    c = Checks()
    cloud_port = free_port()
    cloud_overrides = LIGHT + ["ingest.source=push:", f'ingest.push_tokens=["{PUSH_TOKEN}"]']
    hall_overrides = LIGHT + [
        "ingest.source=test:", "hls.live_window=100",
        f"uplink.url=http://127.0.0.1:{cloud_port}/ingest", f"uplink.token={PUSH_TOKEN}", "uplink.timeout_s=1",
    ]
    with Relay(args.binary, args.source_dir, cloud_overrides, port=cloud_port) as cloud, \
            Relay(args.binary, args.source_dir, hall_overrides) as hall:
        hall.wait_for_segments("360p", 1, timeout=60)
        for name in RENDITIONS:
            cloud.wait_for_segments(name, 3, timeout=60)
        c.check(PUSH_TOKEN not in hall.log_text(), "the hall's log never shows the uplink token")

        # The cloud serves the ladder: master, playlists, init, parts, blocking reload.
        master = cloud.get("/live/master.m3u8").decode()
        c.check(sorted(uri for _, uri in master_variants(master)) == sorted(f"{n}/index.m3u8" for n in RENDITIONS),
                f"the cloud master names the three renditions ({[u for _, u in master_variants(master)]})")
        text = playlist(cloud, "360p")
        init = map_uri(text)
        c.check(init is not None and len(cloud.get(f"/live/360p/{init}")) > 0, "the cloud serves the init section")
        parts = part_uris(text)
        c.check(len(parts) > 0 and len(cloud.get(f"/live/360p/{parts[-1]}")) > 0, "the cloud serves LL-HLS parts")
        # Blocking reload: ask for the part after the newest listed; the answer lists it.
        newest, open_parts = position(text)
        t0 = time.monotonic()
        status, _, body = cloud.request(f"/live/360p/index.m3u8?_HLS_msn={newest + 1}&_HLS_part={open_parts}")
        waited = time.monotonic() - t0
        answered = body.decode()
        after = position(answered) if status == 200 else (0, 0)
        c.check(status == 200 and (after[0] > newest or after[1] > open_parts),
                f"a blocking reload for part {open_parts} of segment {newest + 1} on the cloud answers 200 with it "
                f"(got {status}, {after})")
        print(f"cloud blocking reload for segment {newest + 1} part {open_parts}: held {waited * 1000:.0f} ms",
              flush=True)

        # Each media byte once: pushed (read first) within a few % of produced.
        report = health(hall)
        pushed = report["uplink"]["media_bytes_pushed"]
        produced = produced_media_bytes(hall)
        ratio = pushed / produced if produced else 0
        print(f"hall produced {produced} media bytes, pushed {pushed} "
              f"(+{report['uplink']['bytes_pushed'] - pushed} playlist bytes): ratio {ratio:.4f}", flush=True)
        c.check(0.95 <= ratio <= 1.0, f"bytes pushed are the bytes of media produced, once (ratio {ratio:.4f})")
        c.check(report["uplink"]["state"] == "pushing", f"the hall's uplink is pushing ({report['uplink']})")
        c.check("uplink_retrying" not in report["codes"], "no uplink_retrying code while pushing")

        # The cloud stops answering: the hall retries and keeps a backlog.
        os.kill(cloud.proc.pid, signal.SIGSTOP)
        try:
            stalled = hall.wait_for(
                lambda: (lambda h: h if h["uplink"]["state"] == "retrying" and h["uplink"]["backlog_s"] >= 2 else None)(
                    health(hall)), STOP_S, "the hall's uplink retrying with a backlog")
            c.check("uplink_retrying" in stalled["codes"] and stalled["status"] != "ok",
                    f"the hall's health is degraded with uplink_retrying ({stalled['status']}, {stalled['codes']})")
            print(f"hall during the cloud outage: {stalled['uplink']}", flush=True)
        except AssertionError as e:
            c.check(False, f"the hall shows the push retrying with a backlog: {str(e)[:400]}")
        finally:
            os.kill(cloud.proc.pid, signal.SIGCONT)
        drained = hall.wait_for(
            lambda: (lambda h: h if h["uplink"]["state"] == "pushing" and h["uplink"]["backlog_s"] < 1.5 else None)(
                health(hall)), 30, "the hall's backlog drained")
        c.check(drained["uplink"]["retries"] > 0, f"the hall counted retries ({drained['uplink']['retries']})")
        print(f"hall after the cloud came back: {drained['uplink']}", flush=True)
        cloud_advances(c, cloud, "after the cloud's 5 s outage")
        metrics = hall.get("/metrics").decode()
        for family in ("seminar_relay_uplink_bytes_total", "seminar_relay_uplink_requests_total",
                       "seminar_relay_uplink_retries_total", "seminar_relay_uplink_backlog_bytes",
                       "seminar_relay_uplink_backlog_seconds", "seminar_relay_uplink_lag_seconds"):
            c.check(f"\n{family}" in metrics, f"the hall's /metrics has {family}")
        c.check(re.search(r'seminar_relay_uplink_requests_total\{result="failed"\} [1-9]', metrics) is not None,
                "the hall's /metrics counts failed requests")

        # The sender itself stops for 5 s (SIGSTOP) and continues.
        before = {name: position(playlist(cloud, name))[0] for name in RENDITIONS}
        os.kill(hall.proc.pid, signal.SIGSTOP)
        time.sleep(STOP_S)  # the outage itself, not a wait for a condition
        os.kill(hall.proc.pid, signal.SIGCONT)
        cloud_advances(c, cloud, "after the hall's 5 s stop", segments=3, timeout=40)
        after = {name: position(playlist(cloud, name))[0] for name in RENDITIONS}
        c.check(all(after[n] > before[n] for n in RENDITIONS), f"cloud media sequence grew ({before} -> {after})")
        final = health(hall)
        print(f"hall at the end: {final['uplink']}", flush=True)
        c.check(final["uplink"]["requests_refused"] == 0, "the cloud refused nothing the hall pushed")
        c.check(PUSH_TOKEN not in hall.log_text() and PUSH_TOKEN not in cloud.log_text(),
                "neither log shows the token")
    c.finish()


if __name__ == "__main__":
    main()
