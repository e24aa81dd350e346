"""TLS and HTTP/2 on the real binary, with a self-signed certificate made here:
curl over HTTP/1.1 and HTTP/2 fetches the master playlist, a media playlist, a
part and a blocking reload from the TLS port, and ALPN picks the protocol asked
for; many blocking reloads held at once on one HTTP/2 connection (h2load) are
all answered; the Q&A REST API works over HTTP/2 and a body over the limit gets
413 (declared or streamed); HTTP/2 responses carry no connection-specific
fields; a client speaking plain HTTP to the TLS port, one that never finishes
the handshake and one that says HTTP/1.1 after choosing h2 are dropped while a
concurrent good client is served; a silent or idle HTTP/2 connection gets GOAWAY
after the header or idle timeout, and a request whose body never comes is
answered 408 without holding the connection; a client that opens and resets
streams at once by the hundred ("rapid reset") gets GOAWAY, one that cancels a
few keeps its connection; the dashboard's event stream runs
on an HTTP/2 stream; at SIGTERM a held reload is answered and the event stream
ends cleanly."""
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

from relay_harness import (LIGHT, TECH_TOKEN, Checks, Relay, free_port, ll_parts, media_segments, parse_args, part_name,
                           preload_hint)

RENDITIONS = ("360p", "240p", "180p")
# Short, so the idle and incomplete-request checks take seconds.
READ_TIMEOUT_S = 4
HEADER_TIMEOUT_S = 3
IDLE_TIMEOUT_S = 3
MAX_BODY = 65536


def make_certificate(folder):
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


class Curl:
    """curl against the TLS port, verifying the test's own certificate."""

    def __init__(self, port, cacert, folder):
        self.base = f"https://127.0.0.1:{port}"
        self.cacert = cacert
        self.folder = folder
        self.count = 0

    def fetch(self, path, http="2", extra=(), timeout=20):
        """(status, http_version, headers {lower name: value}, body bytes)."""
        self.count += 1
        body_file = os.path.join(self.folder, f"body-{self.count}")
        header_file = os.path.join(self.folder, f"headers-{self.count}")
        flag = "--http2" if http == "2" else "--http1.1"
        out = subprocess.run(["curl", "-sS", flag, "--cacert", self.cacert, "--max-time", str(timeout),
                              "-o", body_file, "-D", header_file, "-w", "%{http_code} %{http_version}",
                              *extra, self.base + path],
                             capture_output=True, text=True, timeout=timeout + 10)
        if out.returncode != 0:
            raise AssertionError(f"curl {flag} {path}: exit {out.returncode}: {out.stderr.strip()}")
        status, version = out.stdout.split()
        with open(body_file, "rb") as f:
            body = f.read()
        headers, names = {}, []
        with open(header_file, encoding="latin-1") as f:
            for line in f.read().splitlines()[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    names.append(name)
                    headers[name.strip().lower()] = value.strip()
        headers["__names__"] = names
        return int(status), version, headers, body


def check_routes(c, curl, relay, http):
    """The master playlist, a media playlist, a part and a blocking reload, over one protocol."""
    want = "2" if http == "2" else "1.1"
    status, version, headers, master = curl.fetch("/live/master.m3u8", http)
    c.check(status == 200 and master.startswith(b"#EXTM3U"), f"HTTP/{want}: master playlist over TLS ({status})")
    c.check(version == want, f"HTTP/{want}: curl used HTTP/{version}")
    c.check(b"360p/index.m3u8" in master, f"HTTP/{want}: the master lists the renditions")

    status, version, headers, text = curl.fetch("/live/360p/index.m3u8", http)
    text = text.decode()
    parts = ll_parts(text)
    c.check(status == 200 and parts, f"HTTP/{want}: media playlist with parts ({status}, {len(parts)} parts)")
    c.check(headers.get("content-type") == "application/vnd.apple.mpegurl",
            f"HTTP/{want}: playlist content type ({headers.get('content-type')})")
    if http == "2":
        names = headers["__names__"]
        c.check(all(n == n.lower() for n in names), f"HTTP/2: header names are lower-case ({names})")
        c.check(not {"connection", "keep-alive", "transfer-encoding"} & {n.lower() for n in names},
                f"HTTP/2: no connection-specific fields ({names})")

    if parts:
        uri = parts[0][4]
        status, _, headers, part = curl.fetch(f"/live/360p/{uri}", http)
        plain = relay.get(f"/live/360p/{uri}")
        c.check(status == 200 and part == plain and len(part) > 0,
                f"HTTP/{want}: part {uri} has the plain port's bytes ({status}, {len(part)} vs {len(plain)})")
        c.check(headers.get("content-type") == "video/mp4", f"HTTP/{want}: part content type")
        status, _, headers, _ = curl.fetch(f"/live/360p/{uri}", http, extra=("-I",))
        c.check(status == 200 and headers.get("content-length") == str(len(plain)),
                f"HTTP/{want}: HEAD of a part has its length ({status}, {headers.get('content-length')})")
        if http == "2":
            out = subprocess.run(["nghttp", "-nv", "-H", ":method: HEAD", f"{curl.base}/live/360p/{uri}"],
                                 capture_output=True, text=True, timeout=20).stdout
            c.check(":status: 200" in out and "recv DATA frame" not in out
                    and re.search(r"recv HEADERS frame <length=\d+, flags=0x05", out) is not None,
                    "HTTP/2: HEAD is answered by one HEADERS frame with END_STREAM, no DATA")

    text = relay.get("/live/360p/index.m3u8").decode()
    hint = preload_hint(text)
    c.check(hint is not None, f"HTTP/{want}: playlist has a preload hint")
    if hint:
        msn, index = hint
        t0 = time.monotonic()
        status, _, headers, body = curl.fetch(f"/live/360p/index.m3u8?_HLS_msn={msn}&_HLS_part={index}", http)
        waited = time.monotonic() - t0
        listed = {p[4] for p in ll_parts(body.decode())}
        c.check(status == 200 and part_name(text, msn, index) in listed,
                f"HTTP/{want}: blocking reload for part {msn}.{index} answered with it ({status}, {waited:.2f} s)")
        print(f"HTTP/{want}: blocking reload for {msn}.{index} took {waited * 1000:.0f} ms", flush=True)

    # Big bodies (a whole segment) come through whole.
    segs = re.findall(r"^(seg-[0-9a-z]+-\d+\.m4s)$", text, re.M)
    if segs:
        status, _, _, seg = curl.fetch(f"/live/360p/{segs[-1]}", http)
        c.check(status == 200 and seg == relay.get(f"/live/360p/{segs[-1]}"),
                f"HTTP/{want}: segment {segs[-1]} whole ({len(seg)} bytes)")


def check_many_held(c, relay, tls_port, tmp):
    """Blocking reloads for the next part of every rendition, 90 streams held at
    once on one HTTP/2 connection: all answered 200 within about one part."""
    uris = []
    for name in RENDITIONS:
        msn, index = preload_hint(relay.get(f"/live/{name}/index.m3u8").decode())
        uris.append(f"https://127.0.0.1:{tls_port}/live/{name}/index.m3u8?_HLS_msn={msn}&_HLS_part={index}")
    t0 = time.monotonic()
    out = subprocess.run(["h2load", "-n", "90", "-c", "1", "-m", "90", "-T", "20", *uris],
                         capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    stats = out.stdout
    print(stats[stats.find("finished in"):].strip(), flush=True)
    m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", stats)
    ok = m and int(m.group(1)) == 90
    c.check(out.returncode == 0 and ok, f"90 held reloads on one HTTP/2 connection all 200 ({m and m.group(0)})")
    c.check(re.search(r"Application protocol: h2", stats) is not None, "h2load spoke h2")
    c.check(took < 10, f"the held reloads were answered as parts came ({took:.1f} s)")


def check_qa(c, curl):
    status, version, headers, body = curl.fetch(
        "/api/qa/attendees", extra=("-X", "POST", "-H", "Content-Type: application/json", "--data", '{"name":"h2"}'))
    value = json.loads(body) if body else {}
    c.check(status == 201 and version == "2" and value.get("token"),
            f"HTTP/2: POST /api/qa/attendees creates an attendee ({status} {body[:120]!r})")
    token = value.get("token")
    if token:
        auth = ("-H", f"Authorization: Bearer {token}")
        status, _, _, body = curl.fetch("/api/qa/rooms/current/questions", extra=(
            *auth, "-X", "POST", "-H", "Content-Type: application/json",
            "--data", json.dumps({"text": "Does this work over HTTP/2?"})))
        c.check(status in (200, 201), f"HTTP/2: an attendee asks a question ({status} {body[:120]!r})")
        status, _, _, body = curl.fetch("/api/qa/rooms/current/questions", extra=auth)
        c.check(status == 200 and b"over HTTP/2" in body, f"HTTP/2: the question is listed for its author ({status})")

    # WebSocket needs HTTP/1.1: over HTTP/2 its path answers 426.
    status, _, _, body = curl.fetch("/api/qa/ws?room=current")
    c.check(status == 426, f"HTTP/2: the Q&A WebSocket path answers 426 ({status})")

    big = os.path.join(curl.folder, "big.json")
    with open(big, "wb") as f:
        f.write(b'{"name":"' + b"x" * (3 * MAX_BODY) + b'"}')
    status, version, _, body = curl.fetch("/api/qa/attendees", extra=(
        "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", f"@{big}"))
    c.check(status == 413 and version == "2", f"HTTP/2: a declared body over the limit is 413 ({status})")
    c.check(b"too_large" in body, f"HTTP/2: the Q&A 413 is JSON ({body[:100]!r})")
    # Without Content-Length the body is cut while it streams in.
    status, version, _, body = curl.fetch("/api/qa/attendees", extra=(
        "-X", "POST", "-H", "Content-Type: application/json", "-H", "Transfer-Encoding: chunked",
        "--data-binary", f"@{big}"))
    c.check(status == 413, f"HTTP/2: a streamed body over the limit is 413 ({status})")
    # The connection-level limits did not leak: a normal POST works after them.
    status, _, _, _ = curl.fetch("/api/qa/attendees", extra=(
        "-X", "POST", "-H", "Content-Type: application/json", "--data", '{"name":"after"}'))
    c.check(status == 201, f"HTTP/2: POST works after the refused ones ({status})")


def tls_client(port, alpn=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if alpn:
        context.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname="localhost")


def closed_within(sock, seconds):
    """True when the peer closes (or resets) the connection within `seconds`."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except (socket.timeout, TimeoutError):
            continue
        except (ConnectionError, ssl.SSLError, OSError):
            return True
    return False


def check_bad_clients(c, curl, relay, tls_port):
    """Plain HTTP to the TLS port, a handshake that never finishes, and HTTP/1.1
    after choosing h2: each is dropped, and a download running meanwhile is whole."""
    text = relay.get("/live/360p/index.m3u8").decode()
    seg = re.findall(r"^(seg-[0-9a-z]+-\d+\.m4s)$", text, re.M)[-1]
    expected = relay.get(f"/live/360p/{seg}")
    results = {}

    def good_client():
        got = []
        for _ in range(5):
            got.append(curl.fetch(f"/live/360p/{seg}", extra=("--limit-rate", "2M")))
        results["good"] = got

    worker = threading.Thread(target=good_client)
    worker.start()

    plain = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    plain.sendall(b"GET /live/master.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    c.check(closed_within(plain, 10), "plain HTTP sent to the TLS port: the connection is closed")
    plain.close()

    silent = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    c.check(closed_within(silent, HEADER_TIMEOUT_S + 5), "a client that never starts TLS is cut")
    silent.close()

    h2_then_http1 = tls_client(tls_port, ["h2"])
    c.check(h2_then_http1.selected_alpn_protocol() == "h2", "ALPN offers h2")
    h2_then_http1.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    c.check(closed_within(h2_then_http1, 10), "HTTP/1.1 bytes after choosing h2: GOAWAY and close")
    h2_then_http1.close()

    http11_only = tls_client(tls_port, ["http/1.1"])
    c.check(http11_only.selected_alpn_protocol() == "http/1.1", "ALPN keeps HTTP/1.1 for clients that ask for it")
    http11_only.close()

    worker.join(timeout=120)
    good = results.get("good", [])
    c.check(len(good) == 5 and all(s == 200 and b == expected for s, _, _, b in good),
            f"a concurrent HTTP/2 download was served whole throughout ({[(s, len(b)) for s, _, _, b in good]})")


# A few raw HTTP/2 frames, enough to see what the server does with an idle
# connection and with a request whose body never comes.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY = 0, 1, 3, 4, 7


def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream_id) + payload


def hpack_literal(name, value):
    """A literal field without indexing and without Huffman coding (RFC 7541 6.2.2)."""
    def string(s):
        assert len(s) < 127
        return bytes([len(s)]) + s.encode()
    return b"\x00" + string(name) + string(value)


def read_frames(sock, seconds):
    """[(type, flags, stream id, payload, arrival)] until the peer closes or time runs out."""
    frames, buf = [], b""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.5)
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
            buf += chunk
        except (socket.timeout, TimeoutError):
            pass
        except (ConnectionError, ssl.SSLError, OSError):
            closed = True
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + length],
                           time.monotonic()))
            buf = buf[9 + length:]
    return frames, closed


def check_raw_h2(c, tls_port):
    sock = tls_client(tls_port, ["h2"])
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
    t0 = time.monotonic()
    frames, closed = read_frames(sock, HEADER_TIMEOUT_S + 4)
    settings = next((f for f in frames if f[0] == SETTINGS and not f[1] & 1), None)
    values = {}
    if settings:
        for i in range(0, len(settings[3]), 6):
            key, value = struct.unpack(">HI", settings[3][i:i + 6])
            values[key] = value
    c.check(values.get(3) == 100, f"SETTINGS_MAX_CONCURRENT_STREAMS is 100 ({values})")
    c.check(values.get(6) == 8192, f"SETTINGS_MAX_HEADER_LIST_SIZE is the header limit ({values})")
    goaway = [f for f in frames if f[0] == GOAWAY]
    c.check(goaway and closed, f"a silent HTTP/2 connection gets GOAWAY and is closed ({[f[0] for f in frames]})")
    if goaway:
        c.check(int.from_bytes(goaway[0][3][4:8], "big") == 0, "the GOAWAY says NO_ERROR")
        waited = goaway[0][4] - t0
        c.check(HEADER_TIMEOUT_S - 0.5 < waited < HEADER_TIMEOUT_S + 2,
                f"after the header timeout ({waited:.1f} s, header timeout {HEADER_TIMEOUT_S} s)")
    sock.close()

    # After a request, the idle timeout applies.
    sock = tls_client(tls_port, ["h2"])
    block = (hpack_literal(":method", "GET") + hpack_literal(":scheme", "https")
             + hpack_literal(":authority", "127.0.0.1") + hpack_literal(":path", "/live/master.m3u8"))
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, 0x5, 1, block))  # END_HEADERS | END_STREAM
    t0 = time.monotonic()
    frames, closed = read_frames(sock, IDLE_TIMEOUT_S + 4)
    got = [f for f in frames if f[0] == DATA and f[2] == 1]
    goaway = [f for f in frames if f[0] == GOAWAY]
    c.check(got and b"#EXTM3U" in got[0][3], "a raw HTTP/2 GET gets the master playlist")
    c.check(goaway and closed and IDLE_TIMEOUT_S - 0.5 < goaway[0][4] - t0 < IDLE_TIMEOUT_S + 2,
            f"then GOAWAY after the idle timeout ({goaway and goaway[0][4] - t0})")
    sock.close()

    # A POST whose body never comes: answered (408) after the read timeout and
    # reset, while the connection stays usable until it is idle.
    sock = tls_client(tls_port, ["h2"])
    block = (hpack_literal(":method", "POST") + hpack_literal(":scheme", "https")
             + hpack_literal(":authority", "127.0.0.1") + hpack_literal(":path", "/api/qa/attendees")
             + hpack_literal("content-type", "application/json"))
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, 0x4, 1, block))  # END_HEADERS, no END_STREAM
    t0 = time.monotonic()
    frames, _ = read_frames(sock, READ_TIMEOUT_S + 5)
    answered = [f for f in frames if f[0] == HEADERS and f[2] == 1]
    reset = [f for f in frames if f[0] == RST_STREAM and f[2] == 1]
    c.check(answered, f"a request without its body is answered ({[f[:3] for f in frames]})")
    if answered:
        waited = answered[0][4] - t0
        c.check(READ_TIMEOUT_S - 0.5 < waited < READ_TIMEOUT_S + 2, f"after the read timeout ({waited:.1f} s)")
    c.check(reset and int.from_bytes(reset[0][3], "big") == 0,
            "and its stream is reset with NO_ERROR once the client did not finish it")
    sock.close()


class MemoryTls:
    """A TLS client over ssl.MemoryBIO, so the test decides which bytes leave in
    which send: e.g. its Finished message and its first requests together."""

    def __init__(self, port):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def handshake(self):
        """Leaves the client's last handshake flight unsent, for send() to carry."""
        while True:
            try:
                self.tls.do_handshake()
                return self.tls.selected_alpn_protocol()
            except ssl.SSLWantReadError:
                self.sock.sendall(self.outgoing.read())
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed during the handshake")
                self.incoming.write(chunk)

    def send(self, plaintext):
        """Everything pending (handshake and records) in one sendall."""
        self.tls.write(plaintext)
        self.sock.sendall(self.outgoing.read())

    def frames(self, seconds, until):
        """Frames read until until(frames) holds or time runs out."""
        frames, buf = [], b""
        deadline = time.monotonic() + seconds
        self.sock.settimeout(0.5)
        while time.monotonic() < deadline and not until(frames):
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            if not chunk:
                break
            self.incoming.write(chunk)
            while True:
                try:
                    buf += self.tls.read(65536)
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    break
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                length = int.from_bytes(buf[:3], "big")
                frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + length]))
                buf = buf[9 + length:]
        return frames

    def close(self):
        self.sock.close()


def playlist_answered(frames):
    return any(f[0] == DATA and f[2] == 1 and f[1] & 1 for f in frames)  # END_STREAM


def check_h2_flights(c, relay, tls_port):
    """The relay reads HTTP/2 over TLS itself once the handshake is done: bytes
    the handshake already read, and a flight too big for one read, are served."""
    get_master = frame(HEADERS, 0x5, 1, hpack_literal(":method", "GET") + hpack_literal(":scheme", "https")
                       + hpack_literal(":authority", "127.0.0.1") + hpack_literal(":path", "/live/master.m3u8"))
    # The bandwidths are measured from the segments so far and change as they come.
    def without_bandwidths(playlist):
        return re.sub(rb"BANDWIDTH=\d+", b"BANDWIDTH=_", playlist)
    expected = without_bandwidths(relay.get("/live/master.m3u8"))

    # The client's Finished message and its first request in one TCP send: the
    # request reaches the server with the handshake's last read.
    client = MemoryTls(tls_port)
    c.check(client.handshake() == "h2", "memory-BIO client: ALPN chose h2")
    client.send(PREFACE + frame(SETTINGS, 0, 0) + get_master)
    frames = client.frames(10, playlist_answered)
    body = b"".join(f[3] for f in frames if f[0] == DATA and f[2] == 1)
    c.check(playlist_answered(frames) and without_bandwidths(body) == expected,
            f"a request sent along with the TLS Finished is answered ({len(body)} bytes)")
    client.close()

    # 80,000 WINDOW_UPDATE frames (about 1 MB, far more than the relay reads per
    # turn) and then a request, all in one send: nothing more comes from the
    # client, so the request is answered only if the relay reads on by itself.
    client = MemoryTls(tls_port)
    client.handshake()
    window_update = frame(8, 0, 0, struct.pack(">I", 1))
    client.send(PREFACE + frame(SETTINGS, 0, 0) + window_update * 80000 + get_master)
    frames = client.frames(10, playlist_answered)
    c.check(playlist_answered(frames),
            f"a request behind 1 MB of frames sent at once is answered ({len(frames)} frames back)")
    client.close()


def check_rapid_reset(c, curl, tls_port):
    """A client that opens streams and resets them at once, hundreds in a row
    ("rapid reset", CVE-2023-44487), gets GOAWAY; one that resets a few streams,
    as a player does, keeps its connection; other clients are served meanwhile."""
    def request(stream_id):
        block = (hpack_literal(":method", "GET") + hpack_literal(":scheme", "https")
                 + hpack_literal(":authority", "127.0.0.1") + hpack_literal(":path", "/live/master.m3u8"))
        return (frame(HEADERS, 0x5, stream_id, block)                       # END_HEADERS | END_STREAM
                + frame(RST_STREAM, 0, stream_id, struct.pack(">I", 8)))   # CANCEL

    # A player: 20 cancelled requests, then one it waits for, on the same connection.
    sock = tls_client(tls_port, ["h2"])
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0) + b"".join(request(1 + 2 * i) for i in range(20)))
    block = (hpack_literal(":method", "GET") + hpack_literal(":scheme", "https")
             + hpack_literal(":authority", "127.0.0.1") + hpack_literal(":path", "/live/master.m3u8"))
    sock.sendall(frame(HEADERS, 0x5, 41, block))
    frames, closed = read_frames(sock, IDLE_TIMEOUT_S / 2)  # well before the idle timeout
    c.check(not [f for f in frames if f[0] == GOAWAY] and not closed,
            "20 cancelled requests in a row: the connection stays open")
    c.check([f for f in frames if f[0] == DATA and f[2] == 41 and b"#EXTM3U" in f[3]],
            "and the next request on it is answered")
    sock.close()

    # An attacker: 1,000 (more than the burst of 200, less than nghttp2's default 1,000).
    sock = tls_client(tls_port, ["h2"])
    sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
    sent = 0
    try:
        for batch in range(10):
            sock.sendall(b"".join(request(1 + 2 * (batch * 100 + i)) for i in range(100)))
            sent += 100
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    frames, closed = read_frames(sock, 5)
    goaway = [f for f in frames if f[0] == GOAWAY]
    c.check(goaway and closed, f"{sent} requests opened and reset at once: GOAWAY and the connection is closed")
    sock.close()
    status, version, _, body = curl.fetch("/live/master.m3u8")
    c.check(status == 200 and version == "2" and body.startswith(b"#EXTM3U"),
            "another HTTP/2 client is served afterwards")


def check_event_stream(c, curl):
    """The dashboard's event stream on an HTTP/2 stream: the header, then an event a second."""
    out = subprocess.run(["curl", "-sS", "--http2", "--cacert", curl.cacert, "-N", "--max-time", "3.5", "-D", "-",
                          "-H", f"Authorization: Bearer {TECH_TOKEN}", curl.base + "/api/tech/stream"],
                         capture_output=True, timeout=30)
    text = out.stdout.decode(errors="replace")
    events = text.count("\ndata: ")
    c.check(out.returncode == 28, f"HTTP/2: the event stream stays open (curl exit {out.returncode})")
    c.check(text.startswith("HTTP/2 200") and "content-type: text/event-stream" in text,
            f"HTTP/2: event stream header ({text[:120]!r})")
    c.check(events >= 3, f"HTTP/2: an event a second ({events} in 3.5 s)")


def check_shutdown(c, relay, curl):
    """SIGTERM with an event stream and a held reload open on HTTP/2: the held
    request is answered, the event stream ends cleanly, the relay exits 0."""
    last = media_segments(relay.get("/live/360p/index.m3u8").decode())[-1][0]
    stream = subprocess.Popen(["curl", "-sS", "--http2", "--cacert", curl.cacert, "-N", "--max-time", "30",
                               "-o", os.devnull, "-w", "%{http_code}", "-H", f"Authorization: Bearer {TECH_TOKEN}",
                               curl.base + "/api/tech/stream"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    held = subprocess.Popen(["curl", "-sS", "--http2", "--cacert", curl.cacert, "--max-time", "30",
                             "-o", os.devnull, "-w", "%{http_code}",
                             curl.base + f"/live/360p/index.m3u8?_HLS_msn={last + 2}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    t0 = time.monotonic()
    code = relay.stop()
    took = time.monotonic() - t0
    c.check(code == 0, f"relay exits 0 on SIGTERM ({code}, {took:.1f} s)")
    out, err = stream.communicate(timeout=30)
    c.check(stream.returncode == 0 and out == "200",
            f"HTTP/2: the event stream ended cleanly at shutdown (curl exit {stream.returncode}: {err.strip()})")
    out, err = held.communicate(timeout=30)
    c.check(held.returncode == 0 and out in ("200", "503"),
            f"HTTP/2: the held reload was answered at shutdown ({out}, curl exit {held.returncode}: {err.strip()})")


def check_metrics(c, relay):
    status, _, body = relay.request("/metrics")
    if status != 200:
        return
    text = body.decode()
    c.check(re.search(r'seminar_relay_http_requests_total\{route="part",status="200"\} \d+', text) is not None,
            "HTTP/2 parts are counted by route")
    c.check(re.search(r'status="408"\} [1-9]', text) is not None, "the 408 is counted")
    c.check(re.search(r'status="413"\} [1-9]', text) is not None, "the 413s are counted")


def main():
    args = parse_args()
    c = Checks()
    for tool in ("openssl", "curl", "h2load"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed (scripts/setup.sh installs it)")
    tmp = tempfile.mkdtemp(prefix="relay-tls-")
    cert, key = make_certificate(tmp)
    tls_port = free_port()
    # The plain port serves too: the harness waits for segments there.
    overrides = LIGHT + [f"edge.tls_listen=127.0.0.1:{tls_port}", "edge.plain_http=serve", f"edge.tls_cert_file={cert}",
                         f"edge.tls_key_file={key}", f"edge.read_timeout_s={READ_TIMEOUT_S}",
                         f"edge.header_timeout_s={HEADER_TIMEOUT_S}", f"edge.idle_timeout_s={IDLE_TIMEOUT_S}",
                         f"edge.max_body_bytes={MAX_BODY}"]
    try:
        with Relay(args.binary, args.source_dir, overrides) as relay:
            relay.wait_for_segments("360p", 2)
            relay.wait_for(lambda: "TLS listening" in relay.log_text(), 10, "the TLS port")
            curl = Curl(tls_port, cert, tmp)
            for http in ("1.1", "2"):
                check_routes(c, curl, relay, http)
            check_many_held(c, relay, tls_port, tmp)
            check_qa(c, curl)
            check_bad_clients(c, curl, relay, tls_port)
            check_raw_h2(c, tls_port)
            check_h2_flights(c, relay, tls_port)
            check_rapid_reset(c, curl, tls_port)
            check_event_stream(c, curl)
            check_metrics(c, relay)
            check_shutdown(c, relay, curl)
            log = relay.log_text()
            # Lines read "<time> error [module] ...".
            c.check(re.search(r" (error|critical) \[", log) is None, "no errors in the relay log")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    main()
