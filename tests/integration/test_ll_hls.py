"""Low-Latency HLS on the real binary: blocking playlist reload (the next part is
answered once it exists, and only then), the 400 and 404 paths, the hinted part
held and served, delta playlists with _HLS_skip, gzip'd playlists, a thousand
blocked requests held on a flat thread count and released together, init + parts
that decode with an IDR at every INDEPENDENT part, and ffmpeg as a regular client.
The 503 after three target durations cannot be provoked on a healthy live stream;
the unit tests cover it."""
import asyncio
import gzip
import os
import re
import subprocess
import tempfile
import time

from relay_harness import (LIGHT, Checks, Relay, ffprobe_frames, init_name, ll_parts, media_segments, parse_args,
                           part_name, preload_hint, raise_fd_limit, segment_name, stream_instance, tag_value,
                           thread_count)

RENDITIONS = ("360p", "240p", "180p")
CONCURRENT = 1000


def playlist(relay, name, query=""):
    return relay.get(f"/live/{name}/index.m3u8" + (f"?{query}" if query else "")).decode()


def listed_part_uris(text):
    return {uri for *_, uri in ll_parts(text)}


def check_blocking_next_part(c, relay, name):
    """A blocking request for the hinted part returns a playlist that lists it, and a
    fetch just before sending it did not."""
    for _ in range(5):
        before = playlist(relay, name)
        hint = preload_hint(before)
        if not hint:
            continue
        msn, index = hint
        uri = part_name(before, msn, index)
        if uri in listed_part_uris(before):
            continue  # it arrived in between; take the next one
        t0 = time.monotonic()
        status, headers, body = relay.request(f"/live/{name}/index.m3u8?_HLS_msn={msn}&_HLS_part={index}")
        waited = time.monotonic() - t0
        text = body.decode()
        c.check(status == 200, f"{name}: blocking request for {uri} answered 200 (got {status})")
        c.check(uri in listed_part_uris(text), f"{name}: the blocking response lists {uri}")
        c.check(headers.get("cache-control") == "public, max-age=12",
                f"{name}: blocking response cacheable 6 target durations ({headers.get('cache-control')})")
        c.check(text.count("#EXT-X-RENDITION-REPORT:") == len(RENDITIONS) - 1,
                f"{name}: one rendition report per other rendition")
        print(f"{name}: blocked {waited * 1000:.0f} ms for {uri}", flush=True)
        return
    c.check(False, f"{name}: never caught a hint before its part was listed")


def check_hinted_part(c, relay, name):
    """The hinted part, asked for before it exists, is held and then sent whole."""
    text = playlist(relay, name)
    hint = preload_hint(text)
    c.check(hint is not None, f"{name}: playlist has a PRELOAD-HINT")
    if not hint:
        return
    path = f"/live/{name}/{part_name(text, hint[0], hint[1])}"
    status, headers, early = relay.request(path)
    c.check(status == 200 and headers.get("content-type") == "video/mp4",
            f"{name}: hinted part requested early is served when ready ({status})")
    c.check("immutable" in headers.get("cache-control", ""), f"{name}: parts are immutable")
    status, _, later = relay.request(path)
    c.check(status == 200 and later == early and len(early) > 0, f"{name}: the held part has the same bytes as later")


def check_errors(c, relay, name):
    text = playlist(relay, name)
    hint = preload_hint(text)
    for query, what in (("_HLS_part=0", "_HLS_part without _HLS_msn"), ("_HLS_msn=abc", "a malformed _HLS_msn"),
                        ("_HLS_msn=1&_HLS_part=-1", "a negative part"), ("_HLS_skip=NO", "a bad _HLS_skip")):
        status, _, _ = relay.request(f"/live/{name}/index.m3u8?{query}")
        c.check(status == 400, f"{name}: {what} is 400 (got {status})")

    # last + 3 is too far ahead; the newest segment may complete in between, so retry.
    for _ in range(3):
        last = media_segments(playlist(relay, name))[-1][0]
        t0 = time.monotonic()
        status, _, _ = relay.request(f"/live/{name}/index.m3u8?_HLS_msn={last + 3}", timeout=20)
        if status == 400:
            c.check(time.monotonic() - t0 < 2, f"{name}: the 400 for last+3 comes at once")
            break
    c.check(status == 400, f"{name}: _HLS_msn = last + 3 is 400 (got {status})")
    if hint:
        status, _, _ = relay.request(f"/live/{name}/index.m3u8?_HLS_msn={hint[0]}&_HLS_part=40")
        c.check(status == 400, f"{name}: a part beyond the advance limit is 400 (got {status})")

    # last + 2 is allowed and resolves within about two segments.
    last = media_segments(playlist(relay, name))[-1][0]
    t0 = time.monotonic()
    status, _, body = relay.request(f"/live/{name}/index.m3u8?_HLS_msn={last + 2}", timeout=20)
    waited = time.monotonic() - t0
    c.check(status == 200, f"{name}: _HLS_msn = last + 2 answered 200 (got {status})")
    c.check(status != 200 or media_segments(body.decode())[-1][0] >= last + 2,
            f"{name}: the last + 2 answer lists segment {last + 2}")
    c.check(waited < 8, f"{name}: last + 2 answered in {waited:.1f} s (< 8)")

    # Unknown, un-hinted media is 404 at once, and briefly cacheable: it may exist soon.
    text = playlist(relay, name)
    hint = preload_hint(text)
    instance = stream_instance(text)
    last = media_segments(text)[-1][0]
    for path in (part_name(text, hint[0] + 5, 0), part_name(text, hint[0], 50), segment_name(text, hint[0] + 1),
                 f"part-{instance}-1.x.m4s",
                 # The names of before, and those of another run of the stream, name nothing.
                 f"seg{last}.m4s", f"part{last}.0.m4s", "init.mp4", f"seg-zz{instance}-{last}.m4s"):
        t0 = time.monotonic()
        status, headers, _ = relay.request(f"/live/{name}/{path}")
        c.check(status == 404 and time.monotonic() - t0 < 2, f"{name}: un-hinted {path} is 404 at once ({status})")
        c.check(headers.get("cache-control") == "public, max-age=1",
                f"{name}: the 404 of {path} is cacheable one second ({headers.get('cache-control')})")


def check_gzip(c, relay, name):
    for _ in range(10):
        status, headers, compressed = relay.request(f"/live/{name}/index.m3u8", headers={"Accept-Encoding": "gzip"})
        plain = playlist(relay, name)
        if status == 200 and gzip.decompress(compressed).decode() == plain:
            break
    c.check(headers.get("content-encoding") == "gzip", f"{name}: playlist gzip-encoded ({headers})")
    c.check(headers.get("vary") == "Accept-Encoding", f"{name}: Vary: Accept-Encoding")
    c.check(gzip.decompress(compressed).decode() == plain, f"{name}: gzip body inflates to the playlist")
    # The master's measured AVERAGE-BANDWIDTH changes with every segment: compare
    # two reads that fall between the same two segments.
    for _ in range(10):
        status, headers, master = relay.request("/live/master.m3u8", headers={"Accept-Encoding": "gzip, deflate"})
        same = headers.get("content-encoding") == "gzip" and gzip.decompress(master) == relay.get("/live/master.m3u8")
        if same:
            break
    c.check(same, "master playlist gzip-encoded and inflates to the same text")
    status, headers, _ = relay.request(f"/live/{name}/index.m3u8")
    c.check("content-encoding" not in headers, "no gzip for clients that do not ask")


def check_parts_decode(c, relay, name, tmp):
    """init + each INDEPENDENT part starts with an IDR; init + a segment's parts decode
    and equal the segment's bytes."""
    text = playlist(relay, name)
    status, headers, init = relay.request(f"/live/{name}/{init_name(text)}")
    c.check(status == 200 and headers.get("cache-control") == "public, max-age=31536000, immutable",
            f"{name}: the init section, named by its content, is immutable ({status}, {headers.get('cache-control')})")
    parts = ll_parts(text)
    complete = {msn for msn, *_ in media_segments(text)}
    independent = [p for p in parts if p[3]]
    c.check(len(independent) >= 2, f"{name}: INDEPENDENT parts listed ({len(independent)})")
    for msn, index, _, _, uri in independent:
        path = os.path.join(tmp, f"{name}-{uri}.mp4")
        with open(path, "wb") as f:
            f.write(init + relay.get(f"/live/{name}/{uri}"))
        frames = ffprobe_frames(path, count=1)
        c.check(bool(frames) and frames[0].get("key_frame") == 1,
                f"{name}: {uri} (INDEPENDENT) starts with a key frame: {frames[:1]}")

    whole = [msn for msn in sorted({p[0] for p in parts}) if msn in complete]
    if not whole:
        c.check(False, f"{name}: no complete segment with listed parts")
        return
    msn = whole[0]
    data = b"".join(relay.get(f"/live/{name}/{uri}") for m, _, _, _, uri in parts if m == msn)
    c.check(data == relay.get(f"/live/{name}/{segment_name(text, msn)}"),
            f"{name}: parts of segment {msn} add up to the segment")
    path = os.path.join(tmp, f"{name}-seg{msn}-parts.mp4")
    with open(path, "wb") as f:
        f.write(init + data)
    frames = ffprobe_frames(path)
    c.check(len(frames) >= 30 and frames[0].get("key_frame") == 1,
            f"{name}: init + parts of segment {msn} decode ({len(frames)} frames, IDR first)")
    expected_independent = {(m, i) for m, i, *_ in independent}
    for m, i, *_ in parts:
        if m == msn and i == 0:
            c.check((m, i) in expected_independent, f"{name}: part {m}.0 is marked INDEPENDENT")


def check_skip(c, relay, name):
    """With a DVR window the playlist grows past CAN-SKIP-UNTIL (12 s) and _HLS_skip=YES
    gives a delta playlist with N fewer segments."""
    def delta_ready():
        text = playlist(relay, name, "_HLS_skip=YES")
        return text if "#EXT-X-SKIP:" in text else None
    relay.wait_for(delta_ready, 60, f"{name}: a delta playlist")
    for _ in range(10):
        delta = playlist(relay, name, "_HLS_skip=YES")
        full = playlist(relay, name)
        skipped = int(re.search(r"#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)", delta).group(1))
        full_segs = [uri for *_, uri, _ in media_segments(full)]
        delta_uris = [line for line in delta.splitlines() if line.startswith("seg")]
        same_window = (tag_value(full, "#EXT-X-MEDIA-SEQUENCE") == tag_value(delta, "#EXT-X-MEDIA-SEQUENCE")
                       and full_segs and delta_uris and full_segs[-1] == delta_uris[-1])
        if same_window:
            break
    c.check(same_window, f"{name}: full and delta playlists of the same window fetched")
    c.check(skipped > 0 and len(full_segs) - len(delta_uris) == skipped,
            f"{name}: delta skips {skipped} segments ({len(full_segs)} -> {len(delta_uris)})")
    c.check(delta_uris == full_segs[skipped:], f"{name}: the delta keeps the newest segments in order")
    c.check("CAN-SKIP-UNTIL=12.000" in full, f"{name}: CAN-SKIP-UNTIL advertised")
    c.check("#EXT-X-RENDITION-REPORT:" in delta, f"{name}: delta playlists carry rendition reports too")
    newest = int(re.fullmatch(r"seg-[0-9a-z]+-(\d+)\.m4s", delta_uris[-1]).group(1))
    blocking = relay.request(f"/live/{name}/index.m3u8?_HLS_msn={newest}&_HLS_skip=YES")
    c.check(blocking[0] == 200 and b"#EXT-X-SKIP:" in blocking[2], f"{name}: _HLS_skip together with _HLS_msn")


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    body = await reader.readexactly(length)
    return status, body, time.monotonic()


async def hold_many(relay, name, count):
    """Opens `count` connections, sends a blocking request for segment last + 2 on each,
    and returns (responses, time the last request went out, threads while held)."""
    conns = []
    for start in range(0, count, 100):
        conns += await asyncio.gather(*(asyncio.open_connection("127.0.0.1", relay.port)
                                        for _ in range(min(100, count - start))))
    try:
        last = media_segments(playlist(relay, name))[-1][0]
        request = (f"GET /live/{name}/index.m3u8?_HLS_msn={last + 2} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").encode()
        for _, writer in conns:
            writer.write(request)
        await asyncio.gather(*(writer.drain() for _, writer in conns))
        sent = time.monotonic()
        tasks = [asyncio.create_task(read_response(reader)) for reader, _ in conns]
        await asyncio.sleep(0.3)
        threads = thread_count(relay.proc.pid)
        answered_early = sum(t.done() for t in tasks)
        responses = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        return last + 2, responses, sent, threads, answered_early
    finally:
        for _, writer in conns:
            writer.close()


def check_thousand_blocked(c, relay, name):
    baseline = thread_count(relay.proc.pid)
    for attempt in range(3):
        msn, responses, sent, threads, answered_early = asyncio.run(hold_many(relay, name, CONCURRENT))
        # A segment that completed while the requests were still going out would
        # release some before all were held: that round proves nothing, so repeat it.
        if answered_early == 0 and min(t for *_, t in responses) > sent:
            break
        print(f"round {attempt}: {answered_early} answered before all were held; again", flush=True)
    c.check(answered_early == 0, f"{CONCURRENT} blocked requests all held ({answered_early} answered early)")
    c.check(threads == baseline, f"thread count flat while holding {CONCURRENT} requests ({baseline} -> {threads})")
    c.check(all(status == 200 for status, _, _ in responses),
            f"all {CONCURRENT} answered 200 ({sum(s == 200 for s, _, _ in responses)})")
    uri = segment_name(playlist(relay, name), msn)
    c.check(all(uri.encode() in body for _, body, _ in responses), f"every answer lists {uri}")
    times = [t for *_, t in responses]
    spread = max(times) - min(times)
    print(f"{CONCURRENT} blocked requests released within {spread * 1000:.0f} ms of each other, "
          f"{(min(times) - sent) * 1000:.0f} ms after the last was sent", flush=True)
    c.check(spread < 2.0, f"released together: spread {spread:.2f} s (< 2 s)")
    c.check(relay.request("/api/health")[0] == 200, "relay still serving after the burst")


def check_renditions_in_step(c, relay):
    """Renditions advance within one PART-TARGET of each other, and every rendition
    report names a part that exists."""
    for attempt in range(3):
        # Read all three right after a publish so the comparison is not split by one.
        hint = preload_hint(playlist(relay, RENDITIONS[0]))
        relay.request(f"/live/{RENDITIONS[0]}/index.m3u8?_HLS_msn={hint[0]}&_HLS_part={hint[1]}")
        time.sleep(0.1)
        texts = {n: playlist(relay, n) for n in RENDITIONS}
        ends = {n: ll_parts(t)[-1][:2] for n, t in texts.items()}
        per_segment = round(int(tag_value(texts[RENDITIONS[0]], "#EXT-X-TARGETDURATION")) /
                            float(tag_value(texts[RENDITIONS[0]], "#EXT-X-PART-INF").split("=")[1]))
        positions = {n: m * per_segment + i for n, (m, i) in ends.items()}
        if max(positions.values()) - min(positions.values()) <= 1:
            break
    c.check(max(positions.values()) - min(positions.values()) <= 1,
            f"renditions within one part of each other: {ends}")
    for n, text in texts.items():
        for m in re.finditer(r'#EXT-X-RENDITION-REPORT:URI="\.\./([^/]+)/index.m3u8",LAST-MSN=(\d+),LAST-PART=(\d+)',
                             text):
            other, msn, part = m.group(1), int(m.group(2)), int(m.group(3))
            status, _, _ = relay.request(f"/live/{other}/{part_name(texts[other], msn, part)}")
            c.check(status == 200, f"{n}: report of {other} names part {msn}.{part}, which exists ({status})")


def main():
    args = parse_args()
    c = Checks()
    # The client side needs a thousand sockets, and the relay (our child) as many.
    limit = raise_fd_limit(CONCURRENT * 2 + 512)
    if limit < CONCURRENT + 256:
        print(f"open-file limit {limit} is too low for {CONCURRENT} connections", flush=True)
    tmp = tempfile.mkdtemp(prefix="ll-hls-")
    # All those connections come from 127.0.0.1: lift the per-address cap (edge.max_connections_per_ip).
    with Relay(args.binary, args.source_dir,
               LIGHT + ["hls.dvr_window_s=60", f"edge.max_connections_per_ip={CONCURRENT * 2}"]) as relay:
        for name in RENDITIONS:
            relay.wait_for_segments(name, 2)
        text = playlist(relay, "360p")
        if not c.check("#EXT-X-PART-INF:PART-TARGET=" in text and preload_hint(text),
                       "LL-HLS on by default: PART-INF and a PRELOAD-HINT in the media playlist"):
            c.finish()
        c.check("CAN-BLOCK-RELOAD=YES" in text, "CAN-BLOCK-RELOAD advertised")

        for name in RENDITIONS:
            check_blocking_next_part(c, relay, name)
        check_renditions_in_step(c, relay)
        check_hinted_part(c, relay, "360p")
        check_errors(c, relay, "240p")
        check_gzip(c, relay, "360p")
        check_thousand_blocked(c, relay, "180p")
        for name in RENDITIONS:
            check_parts_decode(c, relay, name, tmp)

        out = subprocess.run(["ffmpeg", "-v", "error", "-xerror", "-i",
                              f"http://127.0.0.1:{relay.port}/live/master.m3u8", "-t", "6", "-f", "null", "-"],
                             capture_output=True, text=True, timeout=120)
        c.check(out.returncode == 0, f"ffmpeg plays the LL master playlist as a regular client: {out.stderr[-500:]}")

        check_skip(c, relay, "360p")
    c.finish()


if __name__ == "__main__":
    main()
