"""The TLS port against clients that hold on without reading, a CONTINUATION
flood, and a certificate renewed while viewers watch (issue 16, items 1, 11, 9).

- HTTP/2 streams that never progress: a client (python3-h2) asks for segments
  with a tiny flow-control window and never opens it. Each stream is reset
  (RST_STREAM CANCEL) at its send deadline, the read timeout plus a second per
  64 KiB of the segment, as an HTTP/1.1 response gets; the resets are counted;
  the connection, with no stream left, gets GOAWAY after the idle timeout.
  With a read timeout longer than the idle timeout, a connection whose every
  stream waits for the client's window counts as idle: GOAWAY after the idle
  timeout, before any stream's deadline.
- A HEADERS frame followed by a flood of CONTINUATION frames ends the
  connection at once with GOAWAY (ENHANCE_YOUR_CALM); a fresh connection is served.
- SIGHUP re-reads edge.tls_cert_file and edge.tls_key_file: new connections get
  the renewed certificate, a keep-alive connection opened before keeps serving;
  a key that does not belong to the certificate is logged as an error and the
  running certificate stays.
The limits change between the parts by rewriting the config file and a SIGHUP."""
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import tempfile
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
from hyperframe.frame import ContinuationFrame, HeadersFrame, SettingsFrame

from relay_harness import LIGHT, Checks, Relay, free_port, media_segments, parse_args
from test_edge_tls import PREFACE, hpack_literal, make_certificate, read_frames, tls_client

TECH_TOKEN = "technician-token-guards-0123456789"
HEADER_TIMEOUT_S = 5
TINY_WINDOW = 1024
CANCEL, ENHANCE_YOUR_CALM, NO_ERROR = 8, 11, 0
GOAWAY = 7


def write_config(path, source_dir, tls, read_timeout_s, idle_timeout_s):
    """A config file of the test's own: the limits a reload changes live here, not in --set."""
    source_dir = os.path.abspath(source_dir)
    cert, key, listen = tls
    text = f'''[edge]
web_dir = "{os.path.join(source_dir, "web")}"
node_modules_dir = "{os.path.join(source_dir, "node_modules")}"
tls_listen = "{listen}"
tls_cert_file = "{cert}"
tls_key_file = "{key}"
# the harness waits for segments on the plain port
plain_http = "serve"
header_timeout_s = {HEADER_TIMEOUT_S}
read_timeout_s = {read_timeout_s}
idle_timeout_s = {idle_timeout_s}

[ingest]
pipelines_dir = "{os.path.join(source_dir, "pipelines")}"

[qa]
technician_tokens = ["{TECH_TOKEN}"]

[log]
level = "info"
'''
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def reload(relay, count):
    """SIGHUP, then wait for the count-th "reloaded" line."""
    relay.proc.send_signal(signal.SIGHUP)
    relay.wait_for(lambda: relay.log_text().count("reloaded\n") >= count, 10, f"reload {count}")


class StalledClient:
    """An HTTP/2 client that announces a tiny stream window and never sends WINDOW_UPDATE."""

    def __init__(self, tls_port, window=TINY_WINDOW):
        self.sock = tls_client(tls_port, ["h2"])
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.local_settings = h2.settings.Settings(
            client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.streams = {}  # stream id -> {path, headers_at, length, received, reset_at, reset_code}
        self.goaway_at = None
        self.goaway_code = None
        self.closed_at = None

    def get(self, path):
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, [(":method", "GET"), (":path", path), (":scheme", "https"),
                                           (":authority", "localhost")], end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        self.streams[stream_id] = {"path": path, "headers_at": None, "length": None, "received": 0,
                                   "reset_at": None, "reset_code": None}

    def pump(self, until, seconds):
        """Reads (acknowledging nothing) until until() holds, the peer closes or time is up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until() and self.closed_at is None:
            self.sock.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                chunk = b""
            now = time.monotonic()
            if not chunk:
                self.closed_at = now
                break
            for event in self.conn.receive_data(chunk):
                s = self.streams.get(getattr(event, "stream_id", None))
                if isinstance(event, h2.events.ResponseReceived) and s:
                    headers = {k.decode(): v.decode() for k, v in event.headers}
                    s["headers_at"] = now
                    s["status"] = int(headers[":status"])
                    s["length"] = int(headers.get("content-length", "-1"))
                elif isinstance(event, h2.events.DataReceived) and s:
                    s["received"] += len(event.data)
                elif isinstance(event, h2.events.StreamReset) and s:
                    s["reset_at"] = now
                    s["reset_code"] = int(event.error_code)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    self.goaway_at = now
                    self.goaway_code = int(event.error_code)
            try:
                self.sock.sendall(self.conn.data_to_send())
            except (ConnectionError, ssl.SSLError, OSError):
                pass
        return until()

    def close(self):
        self.sock.close()


def segment_paths(relay):
    """The two newest segments of the two small renditions (well under 64 KiB a
    second each, so their deadlines stay within the test's idle timeout)."""
    paths = []
    for name in ("240p", "180p"):
        segs = media_segments(relay.get(f"/live/{name}/index.m3u8").decode())
        paths += [f"/live/{name}/{uri}" for _, _, uri, _ in segs[-2:]]
    return paths


def metric(relay, name):
    status, _, body = relay.request("/metrics", headers={"Authorization": f"Bearer {TECH_TOKEN}"})
    m = re.search(rf"^{name} (\S+)$", body.decode(), re.M) if status == 200 else None
    return float(m.group(1)) if m else None


def check_stalled_streams(c, relay, tls_port, read_timeout_s, idle_timeout_s):
    paths = segment_paths(relay)
    client = StalledClient(tls_port)
    for path in paths:
        client.get(path)
    streams = client.streams.values()
    client.pump(lambda: all(s["headers_at"] for s in streams), 10)
    c.check(all(s.get("status") == 200 and s["length"] > TINY_WINDOW for s in streams),
            f"{len(paths)} segments answered 200 on one HTTP/2 connection "
            f"({[(s.get('status'), s['length']) for s in streams]})")
    # The same rule as HTTP/1.1: the read timeout plus a second per 64 KiB.
    for s in streams:
        s["expected"] = read_timeout_s + max(s["length"] or 0, 0) // 65536
    latest = max(s["expected"] for s in streams)
    c.check(latest < idle_timeout_s, f"the deadlines ({latest} s) come before the idle timeout ({idle_timeout_s} s)")
    client.pump(lambda: all(s["reset_at"] for s in streams), latest + 3)
    c.check(all(s["received"] <= TINY_WINDOW for s in streams),
            f"each sent only what the window allowed ({[s['received'] for s in streams]})")
    for s in streams:
        if s["headers_at"] is None:
            continue
        expected = s["expected"]
        waited = s["reset_at"] - s["headers_at"] if s["reset_at"] else None
        c.check(waited is not None and s["reset_code"] == CANCEL and expected - 0.3 < waited < expected + 1.5,
                f"{s['path']} ({s['length']} B) reset with CANCEL at its deadline "
                f"({waited and round(waited, 2)} s, expected {expected} s, code {s['reset_code']})")
    last_reset = max((s["reset_at"] for s in streams if s["reset_at"]), default=time.monotonic())
    client.pump(lambda: client.goaway_at is not None and client.closed_at is not None, idle_timeout_s + 5)
    waited = client.goaway_at - last_reset if client.goaway_at else None
    c.check(waited is not None and client.goaway_code == NO_ERROR and client.closed_at is not None
            and idle_timeout_s - 0.5 < waited < idle_timeout_s + 2,
            f"then, with no stream left, GOAWAY and close after the idle timeout ({waited and round(waited, 2)} s)")
    client.close()
    stalled = metric(relay, "seminar_relay_http2_streams_stalled_total")
    c.check(stalled is not None and stalled >= len(paths), f"the resets are counted in /metrics ({stalled})")


def check_blocked_connection_idle(c, relay, tls_port, idle_timeout_s):
    """Read timeout above the idle timeout: every stream flow-blocked makes the connection idle."""
    client = StalledClient(tls_port)
    for path in segment_paths(relay)[:3]:
        client.get(path)
    client.pump(lambda: all(s["headers_at"] for s in client.streams.values()), 10)
    last_data = time.monotonic()
    client.pump(lambda: client.goaway_at is not None and client.closed_at is not None, idle_timeout_s + 5)
    waited = client.goaway_at - last_data if client.goaway_at else None
    c.check(waited is not None and client.goaway_code == NO_ERROR and client.closed_at is not None
            and idle_timeout_s - 0.5 < waited < idle_timeout_s + 2,
            f"every stream waiting for the client's window: GOAWAY and close after the idle timeout "
            f"({waited and round(waited, 2)} s, idle timeout {idle_timeout_s} s)")
    c.check(not any(s["reset_at"] for s in client.streams.values()), "before any stream's own deadline")
    client.close()


def check_continuation_flood(c, relay, tls_port):
    sock = tls_client(tls_port, ["h2"])
    block = (hpack_literal(":method", "GET") + hpack_literal(":scheme", "https")
             + hpack_literal(":authority", "127.0.0.1") + hpack_literal(":path", "/live/master.m3u8"))
    headers = HeadersFrame(1, data=block)  # no END_HEADERS: CONTINUATION frames follow
    continuation = ContinuationFrame(1, data=hpack_literal("x-flood", "0")).serialize()
    t0 = time.monotonic()
    try:
        sock.sendall(PREFACE + SettingsFrame(0).serialize() + headers.serialize() + continuation * 5000)
    except (ConnectionError, ssl.SSLError, OSError):
        pass  # the relay may close before it has all of it
    frames, closed = read_frames(sock, HEADER_TIMEOUT_S + 3)
    goaway = [f for f in frames if f[0] == GOAWAY]
    took = (goaway[0][4] - t0) if goaway else None
    code = int.from_bytes(goaway[0][3][4:8], "big") if goaway else None
    c.check(goaway and closed and took < 2,
            f"5,000 CONTINUATION frames after a HEADERS frame: GOAWAY and close at once "
            f"({took and round(took, 2)} s, header timeout {HEADER_TIMEOUT_S} s)")
    c.check(code == ENHANCE_YOUR_CALM, f"the GOAWAY says ENHANCE_YOUR_CALM ({code})")
    sock.close()
    client = StalledClient(tls_port, window=65535)
    client.get("/live/master.m3u8")
    stream = next(iter(client.streams.values()))
    client.pump(lambda: stream["received"] > 0 and stream["received"] == stream["length"], 10)
    c.check(stream.get("status") == 200 and stream["received"] == stream["length"],
            f"a fresh HTTP/2 connection is served afterwards ({stream.get('status')})")
    client.close()


def peer_certificate(tls_port):
    sock = tls_client(tls_port, ["http/1.1"])
    try:
        return sock.getpeercert(binary_form=True)
    finally:
        sock.close()


def der_of(cert_file):
    with open(cert_file) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def keep_alive_connection(tls_port):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", tls_port, timeout=10, context=context)
    return conn


def get_on(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, body


def check_certificate_renewal(c, relay, tls_port, folder, cert, key, reloads):
    der_a = der_of(cert)
    os.makedirs(os.path.join(folder, "renewed"))
    os.makedirs(os.path.join(folder, "other"))
    renewed = make_certificate(os.path.join(folder, "renewed"))
    other = make_certificate(os.path.join(folder, "other"))
    der_b = der_of(renewed[0])
    c.check(peer_certificate(tls_port) == der_a, "the TLS port serves the first certificate")
    kept = keep_alive_connection(tls_port)
    status, _ = get_on(kept, "/live/master.m3u8")
    kept_cert = kept.sock.getpeercert(binary_form=True)
    c.check(status == 200 and kept_cert == der_a, "a keep-alive HTTPS connection is served with it")

    # The renewal, as an ACME client writes it: new files in place, then SIGHUP.
    shutil.copy(renewed[0], cert + ".new")
    shutil.copy(renewed[1], key + ".new")
    os.replace(key + ".new", key)
    os.replace(cert + ".new", cert)
    reloads += 1
    reload(relay, reloads)
    served = relay.wait_for(lambda: peer_certificate(tls_port) == der_b, 10, "the renewed certificate")
    c.check(served, "after SIGHUP a new connection gets the renewed certificate")
    c.check("TLS certificate reloaded" in relay.log_text(), "the renewal is logged")
    status, body = get_on(kept, "/live/master.m3u8")
    c.check(status == 200 and body.startswith(b"#EXTM3U") and kept.sock.getpeercert(binary_form=True) == der_a,
            "the connection opened before the renewal keeps serving, on its first certificate")
    kept.close()

    # Half a renewal: a key that does not belong to the certificate.
    shutil.copy(other[1], key + ".new")
    os.replace(key + ".new", key)
    reloads += 1
    reload(relay, reloads)
    log = relay.log_text()
    c.check(re.search(r" error \[edge\] TLS certificate not reloaded, still serving the previous one: "
                      r"edge.tls_key_file .*does not belong to the certificate", log) is not None,
            "a key that does not match is logged as an error")
    c.check(all(peer_certificate(tls_port) == der_b for _ in range(3)),
            "and new connections still get the renewed certificate")
    status, _ = get_on(keep_alive_connection(tls_port), "/live/master.m3u8")
    c.check(status == 200, "and are served")
    return reloads


def main():
    args = parse_args()
    c = Checks()
    folder = tempfile.mkdtemp(prefix="relay-tls-guards-")
    try:
        config = os.path.join(folder, "relay.toml")
        cert, key = make_certificate(folder)
        tls_port = free_port()
        tls = (cert, key, f"127.0.0.1:{tls_port}")
        write_config(config, args.source_dir, tls, read_timeout_s=1, idle_timeout_s=4)
        with Relay(args.binary, args.source_dir, LIGHT, config=config) as relay:
            relay.wait_for_segments("180p", 2)
            relay.wait_for(lambda: "TLS listening" in relay.log_text(), 10, "the TLS port")
            check_stalled_streams(c, relay, tls_port, read_timeout_s=1, idle_timeout_s=4)
            check_continuation_flood(c, relay, tls_port)

            write_config(config, args.source_dir, tls, read_timeout_s=8, idle_timeout_s=2)
            reload(relay, 1)
            check_blocked_connection_idle(c, relay, tls_port, idle_timeout_s=2)

            write_config(config, args.source_dir, tls, read_timeout_s=8, idle_timeout_s=30)
            reload(relay, 2)
            check_certificate_renewal(c, relay, tls_port, folder, cert, key, reloads=2)

            c.check(relay.stop() == 0, "the relay exits 0 on SIGTERM")
            log = relay.log_text()
            errors = [line for line in log.splitlines() if re.search(r" (error|critical) \[", line)]
            c.check(all("TLS certificate not reloaded" in line for line in errors),
                    f"no other errors in the relay log ({errors[:3]})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    main()
