"""HTTP behaviour of the edge on the real binary: Range, HEAD, 404/400/405, '..',
CORS, Cache-Control, ETag, keep-alive, the player page and hls.js, malformed and
oversize requests."""
import http.client
import os
import socket

from relay_harness import LIGHT, Checks, Relay, media_segments, parse_args


def raw_exchange(port, data, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except socket.timeout:
            pass
        return b"".join(chunks)


def main():
    args = parse_args()
    c = Checks()
    overrides = LIGHT + ['edge.cors_origins=["https://seminar.example.org"]']
    with Relay(args.binary, args.source_dir, overrides) as relay:
        segs = relay.wait_for_segments("360p", 2)
        msn = segs[-1][0]
        seg_path = relay.segment_path("360p", msn)
        full = relay.get(seg_path)

        # Cache-Control, content types, ETag / If-None-Match.
        status, h, _ = relay.request("/live/360p/index.m3u8")
        c.check(h.get("content-type") == "application/vnd.apple.mpegurl", f"playlist type {h.get('content-type')}")
        c.check("max-age=1" in h.get("cache-control", ""), f"playlist short-lived: {h.get('cache-control')}")
        status, h, _ = relay.request(seg_path)
        c.check(h.get("content-type") == "video/mp4", f"segment type {h.get('content-type')}")
        c.check("immutable" in h.get("cache-control", "") and "max-age=31536000" in h.get("cache-control", ""),
                f"segment long-lived and immutable: {h.get('cache-control')}")
        etag = h.get("etag")
        c.check(bool(etag), "segment has an ETag")
        status, h2, body = relay.request(seg_path, headers={"If-None-Match": etag})
        c.check(status == 304 and body == b"", f"If-None-Match gives 304 without body (got {status})")
        # Last-Modified is when the segment was captured; If-Modified-Since alone is answered with it.
        modified = h.get("last-modified")
        c.check(bool(modified) and modified.endswith(" GMT"), f"segment has a Last-Modified ({modified})")
        status, _, body = relay.request(seg_path, headers={"If-Modified-Since": modified})
        c.check(status == 304 and body == b"", f"If-Modified-Since gives 304 (got {status})")
        # A name that may exist a moment later is cacheable one second; the API not at all.
        status, h, _ = relay.request(relay.segment_path("360p", msn + 1000))
        c.check(status == 404 and h.get("cache-control") == "public, max-age=1",
                f"missing segment: 404, max-age=1 ({status}, {h.get('cache-control')})")
        status, h, _ = relay.request("/api/health")
        c.check(h.get("cache-control") == "no-store", f"/api/health is no-store ({h.get('cache-control')})")

        # Single byte ranges; unsatisfiable; HEAD.
        status, h, body = relay.request(seg_path, headers={"Range": "bytes=100-199"})
        c.check(status == 206 and body == full[100:200], f"Range 100-199 gives 206 and those bytes (got {status})")
        c.check(h.get("content-range") == f"bytes 100-199/{len(full)}", f"Content-Range {h.get('content-range')}")
        status, h, body = relay.request(seg_path, headers={"Range": "bytes=-50"})
        c.check(status == 206 and body == full[-50:], "suffix range gives the last 50 bytes")
        status, h, body = relay.request(seg_path, headers={"Range": f"bytes={len(full) + 10}-"})
        c.check(status == 416 and h.get("content-range") == f"bytes */{len(full)}", f"unsatisfiable range 416 ({status})")
        status, h, body = relay.request(seg_path, method="HEAD")
        c.check(status == 200 and body == b"" and int(h.get("content-length", -1)) == len(full),
                f"HEAD: 200, no body, Content-Length {h.get('content-length')} == {len(full)}")

        # Errors.
        c.check(relay.request("/live/nosuch/index.m3u8")[0] == 404, "unknown rendition 404")
        c.check(relay.request(relay.segment_path("360p", 999999))[0] == 404, "unknown segment 404")
        c.check(relay.request("/nothing-here")[0] == 404, "unknown path 404")
        c.check(relay.request("/static/../../etc/passwd")[0] == 400, "'..' rejected with 400")
        c.check(relay.request("/static/%2e%2e/%2e%2e/etc/passwd")[0] == 400, "encoded '..' rejected with 400")
        status, h, _ = relay.request("/live/master.m3u8", method="POST")
        c.check(status == 405 and "GET" in h.get("allow", ""), f"POST on media gives 405 with Allow ({status})")

        # CORS: the configured origin only.
        _, h, _ = relay.request("/live/master.m3u8", headers={"Origin": "https://seminar.example.org"})
        c.check(h.get("access-control-allow-origin") == "https://seminar.example.org", "allowed origin echoed")
        _, h, _ = relay.request("/live/master.m3u8", headers={"Origin": "https://evil.example.com"})
        c.check("access-control-allow-origin" not in h, "other origins get no CORS header")
        status, h, _ = relay.request("/live/master.m3u8", method="OPTIONS",
                                     headers={"Origin": "https://seminar.example.org",
                                              "Access-Control-Request-Method": "GET"})
        c.check(status == 204 and "GET" in h.get("access-control-allow-methods", ""), f"preflight 204 ({status})")

        # Keep-alive: several requests on one connection.
        conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=5)
        statuses = []
        for path in ("/live/master.m3u8", "/live/360p/index.m3u8", seg_path):
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
        conn.close()
        c.check(statuses == [200, 200, 200], f"keep-alive: three requests on one connection {statuses}")

        # The attendee page and hls.js from node_modules.
        status, h, page = relay.request("/")
        c.check(status == 200 and h.get("content-type", "").startswith("text/html"), f"/ is HTML ({status})")
        c.check(b"/vendor/hls.min.js" in page, "the page loads hls.js from the relay itself")
        status, h, js = relay.request("/vendor/hls.min.js")
        c.check(status == 200 and len(js) > 100_000, f"hls.js served ({status}, {len(js)} bytes)")
        # A body this big goes out with sendfile from an in-memory file: the very
        # bytes, whole and in ranges, twice (the second time from the same file).
        on_disk = open(os.path.join(args.source_dir, "node_modules", "hls.js", "dist", "hls.min.js"), "rb").read()
        c.check(js == on_disk, f"hls.js is the file in node_modules, byte for byte ({len(js)} of {len(on_disk)})")
        for first, last in ((0, 99), (70_000, 400_123), (len(on_disk) - 5000, len(on_disk) - 1)):
            for _ in range(2):
                status, h, part = relay.request("/vendor/hls.min.js", headers={"Range": f"bytes={first}-{last}"})
                c.check(status == 206 and part == on_disk[first:last + 1],
                        f"hls.js bytes {first}-{last}: 206 and those bytes ({status}, {len(part)} bytes)")

        # Malformed and oversize requests get an answer and do not hurt the server.
        resp = raw_exchange(relay.port, b"GARBAGE\r\n\r\n")
        c.check(resp.startswith(b"HTTP/1.1 400"), f"malformed request gets 400: {resp[:40]!r}")
        big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        resp = raw_exchange(relay.port, big)
        c.check(resp.startswith(b"HTTP/1.1 431"), f"oversize header gets 431: {resp[:40]!r}")
        body = b"x" * (200 * 1024)
        resp = raw_exchange(relay.port, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        c.check(resp.startswith(b"HTTP/1.1 413"), f"oversize body gets 413: {resp[:40]!r}")
        c.check(relay.request("/live/master.m3u8")[0] == 200, "server still serving after bad requests")
        segs_after = media_segments(relay.get("/live/360p/index.m3u8").decode())
        c.check(segs_after[-1][0] >= msn, "playlist still advancing")
    c.finish()


if __name__ == "__main__":
    main()
