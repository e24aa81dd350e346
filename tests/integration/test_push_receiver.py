#!/usr/bin/env python3
"""A cloud relay as a push receiver (ingest.source = "push:"): the HLS ingest by
HTTP PUT on /ingest/ refuses a push without a token, a malformed playlist, an
unknown rendition and an oversized object, and keeps serving; ffmpeg pushes a
short fMP4 HLS stream with -method PUT and the relay republishes it without
transcoding (master and media playlists, segments ffprobe reads); health and
metrics show the uplink receiving and its bytes, then `uplink_lost` once the
pushes stop, the last picture held; a new push brings it back after a
discontinuity."""
import http.client
import json
import os
import socket
import subprocess
import tempfile

from prom_format import parse, value
from relay_harness import Checks, Relay, media_segments, parse_args, ffprobe_frames

PUSH_TOKEN = "push-token-0123456789abcdef"
# One rung, so one ffmpeg feeds the whole ladder.
LADDER = '[{name="180p",width=320,height=180,bitrate_kbps=300,profile="baseline"}]'
OVERRIDES = [
    "ingest.source=push:",
    f'ingest.push_tokens=["{PUSH_TOKEN}"]',
    f"encoder.renditions={LADDER}",
    # ffmpeg's HLS muxer writes one fragment per segment: no LL-HLS parts to carry.
    "hls.low_latency=false",
]


def put(relay, path, body, token=PUSH_TOKEN):
    headers = {"Content-Type": "application/octet-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10)
    try:
        conn.request("PUT", path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except ConnectionError as e:  # refused (and closed) before the whole body was sent
        return None, {}, repr(e).encode()
    finally:
        conn.close()


def error_of(body):
    try:
        return json.loads(body).get("error")
    except ValueError:
        return None


def oversize_status(relay, size, path="/ingest/180p/big.m4s", token=PUSH_TOKEN):
    """Sends only the header of a PUT declaring `size` bytes; returns the status the relay answers."""
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        s.sendall((f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                   f"Content-Length: {size}\r\n\r\n").encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else None


def ffmpeg_push(relay, seconds):
    """ffmpeg's own HLS muxer pushing the one rung with -method PUT, in real time."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
           "-f", "lavfi", "-i", "testsrc=size=320x180:rate=30",
           "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
           "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-keyint_min", "60",
           "-sc_threshold", "0", "-c:a", "aac", "-b:a", "64k",
           "-f", "hls", "-hls_time", "2", "-hls_list_size", "6", "-hls_segment_type", "fmp4",
           "-hls_flags", "delete_segments+program_date_time", "-method", "PUT",
           "-headers", f"Authorization: Bearer {PUSH_TOKEN}\r\n",
           f"http://127.0.0.1:{relay.port}/ingest/180p/index.m3u8"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def health(relay, technician=True):
    status, _, body = relay.request("/api/health", technician=technician)
    return json.loads(body)


def main():
    args = parse_args()
    c = Checks()
    with Relay(args.binary, args.source_dir, OVERRIDES) as relay:
        # "off" until the receiver's first health tick reports it ("uplink" also names a hall relay's own push).
        detail = relay.wait_for(lambda: (lambda h: h if h["uplink"].get("state") != "off" else None)(health(relay)), 20,
                                "the uplink in the health detail")
        c.check(detail["uplink"]["state"] == "waiting", f"before any push the uplink waits ({detail['uplink']})")

        # (a) Refusals, each leaving the relay serving.
        status, headers, body = put(relay, "/ingest/180p/init.mp4", b"x", token=None)
        c.check(status == 401 and error_of(body) == "unauthorized", f"PUT without a token: 401 ({status} {body[:80]!r})")
        c.check(headers.get("www-authenticate") == "Bearer", "the 401 asks for a bearer token")
        status, _, body = put(relay, "/ingest/180p/init.mp4", b"x", token="wrong-token-0123456789abcdef")
        c.check(status == 401, f"PUT with a wrong token: 401 ({status})")
        c.check(PUSH_TOKEN not in relay.log_text(), "the push token is never logged")
        status, _, body = put(relay, "/ingest/999p/seg1.m4s", b"x")
        c.check(status == 404 and error_of(body) == "unknown_rendition", f"unknown rendition: 404 ({status} {body[:80]!r})")
        status, _, body = put(relay, "/ingest/180p/index.m3u8", b"this is not a playlist\n#EXTINF:2,\n")
        c.check(status == 400 and error_of(body) == "bad_playlist" and b"EXTM3U" in body,
                f"a malformed playlist: 400 bad_playlist with what is wrong ({status} {body[:120]!r})")
        status, _, body = put(relay, "/ingest/180p/index.m3u8",
                              b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n../../etc/passwd\n")
        c.check(status == 400 and b"plain object name" in body, f"a path in a playlist: 400 ({status} {body[:120]!r})")
        status, _, body = put(relay, "/ingest/180p/a%2F..%2Fb.m4s", b"x")
        c.check(status in (400, 404), f"a path as object name is refused ({status})")
        # Objects far over the edge's 64 KiB API body limit are taken on /ingest/ (by length and chunked).
        status, _, body = put(relay, "/ingest/180p/big1.m4s", b"\0" * (4 << 20))
        c.check(status == 204, f"a 4 MiB object is taken ({status} {body[:80]!r})")
        chunks = (b"\1" * (256 << 10) for _ in range(8))
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10)
        try:
            conn.request("PUT", "/ingest/180p/big2.m4s", body=chunks, encode_chunked=True,
                         headers={"Authorization": f"Bearer {PUSH_TOKEN}", "Transfer-Encoding": "chunked"})
            status = conn.getresponse().status
        except ConnectionError:
            status = None
        finally:
            conn.close()
        c.check(status == 204, f"a 2 MiB chunked object is taken ({status})")
        status = oversize_status(relay, 1 << 20, "/api/qa/rooms")
        c.check(status == 413, f"other routes keep the edge's body limit ({status})")
        status = oversize_status(relay, 1 << 20, token="wrong-token-0123456789abcdef")
        c.check(status == 413, f"without a valid token, no body over the edge's limit is read ({status})")
        too_big = oversize_status(relay, 17 * 1024 * 1024)
        c.check(too_big == 413, f"a 17 MiB object: 413 before its body is sent ({too_big})")
        status, _, _ = relay.request("/api/health")
        c.check(status in (200, 503), f"the relay still answers after the refusals ({status})")

        # (b) ffmpeg pushes; the relay republishes.
        with tempfile.TemporaryDirectory(prefix="push-") as tmp:
            pusher = ffmpeg_push(relay, 9)
            try:
                relay.wait_for(lambda: relay.request("/live/master.m3u8", technician=False)[0] == 200, 30,
                               "the master playlist")
                master = relay.get("/live/master.m3u8").decode()
                c.check("180p/index.m3u8" in master and "CODECS=\"avc1." in master and "mp4a" in master,
                        f"the master names the pushed rung with the codecs of its init section:\n{master}")
                segs = relay.wait_for_segments("180p", 2, timeout=30)
                text = relay.get("/live/180p/index.m3u8").decode()
                c.check("#EXT-X-PROGRAM-DATE-TIME:" in text, "the republished playlist has PDT")
                init = relay.init_section("180p")
                seg = relay.get(f"/live/180p/{segs[0][2]}")
                path = os.path.join(tmp, "seg.mp4")
                with open(path, "wb") as f:
                    f.write(init + seg)
                frames = ffprobe_frames(path)
                c.check(len(frames) >= 50 and frames[0]["width"] == 320 and frames[0]["key_frame"] == 1,
                        f"ffprobe reads the republished segment: {len(frames)} frames, 320 wide, from a keyframe")
                c.check(abs(segs[0][1] - 2.0) < 0.05, f"segments last what ffmpeg cut (2 s: {segs[0][1]})")

                # (c) The uplink's state, lag and bytes.
                detail = health(relay)
                uplink = detail.get("uplink") or {}
                c.check(uplink.get("state") == "receiving", f"the uplink is receiving ({uplink})")
                c.check(uplink.get("media_bytes", 0) > 50000 and uplink.get("bytes_received", 0) > uplink["media_bytes"]
                        and uplink.get("objects", 0) >= 3,
                        f"bytes and objects are counted ({uplink})")
                c.check(uplink.get("lag_s") is not None and -1 < uplink["lag_s"] < 10,
                        f"the lag behind the pushed PDT is known ({uplink.get('lag_s')})")
                samples = parse(relay.get("/metrics").decode())
                media = value(samples, "seminar_relay_push_bytes_total", kind="media") or 0
                c.check(media > 50000, f"pushed media bytes on /metrics ({media})")
                c.check((value(samples, "seminar_relay_push_bytes_total", kind="playlist") or 0) > 0,
                        "pushed playlist bytes on /metrics, apart")
                c.check((value(samples, "seminar_relay_push_objects_total", result="accepted") or 0) >= 3,
                        "accepted objects on /metrics")
                c.check((value(samples, "seminar_relay_push_objects_total", result="rejected") or 0) >= 4,
                        "refused pushes counted as rejected on /metrics")
                c.check(value(samples, "seminar_relay_push_lag_seconds") is not None, "the push lag on /metrics")
            finally:
                out, _ = pusher.communicate(timeout=60)
            c.check(pusher.returncode == 0, f"ffmpeg pushed without an error: {out[-400:]!r}")

        newest = relay.newest_msn("180p")
        lost = relay.wait_for(lambda: (lambda h: h if "uplink_lost" in h.get("codes", []) else None)(
            health(relay, technician=False)), 15, "uplink_lost in the public health")
        c.check(lost["status"] == "degraded", f"a lost uplink degrades the public health ({lost})")
        c.check(health(relay)["uplink"]["state"] == "lost", "the detail says lost")
        status, _, _ = relay.request("/live/180p/index.m3u8", technician=False)
        c.check(status == 200 and relay.newest_msn("180p") == newest,
                "the last picture is held: the playlist is served and stops advancing")

        # A new push (ffmpeg starts its sequence again) continues after a discontinuity.
        pusher = ffmpeg_push(relay, 5)
        try:
            relay.wait_for(lambda: health(relay)["uplink"]["state"] == "receiving", 20, "the uplink back")
            relay.wait_for(lambda: "#EXT-X-DISCONTINUITY" in relay.get("/live/180p/index.m3u8").decode(), 20,
                           "the discontinuity of the new push")
            c.check(relay.newest_msn("180p") > newest, "the media sequence goes on rising")
        finally:
            pusher.communicate(timeout=60)
        c.check(PUSH_TOKEN not in relay.log_text(), "the push token is never logged")
    c.finish()


if __name__ == "__main__":
    main()
