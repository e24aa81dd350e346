"""One authority for roles and tokens (issue 15 item 3).

A config reload (SIGHUP) reaches every protected route at once, in both
directions: the technician's surfaces, closed while no technician token is
configured, open with the first one; a withdrawn token stops working and a new one starts to,
on /api/incidents, /api/tech/stream, /api/tech/thumbnail.jpg and the Q&A's
moderator routes. The long-lived connections a withdrawn grant opened end: the
dashboard's event stream (HTTP/1.1 and HTTP/2) and a moderator's Q&A WebSocket
(close code 4001); an attendee's WebSocket stays."""
import asyncio
import atexit
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time

import h2.config
import h2.connection
import h2.events
import websockets

from qa_harness import QaClient, new_attendee
from relay_harness import LIGHT, Checks, Relay, parse_args

MOD_OLD = "moderator-token-old-0123456789"
MOD_NEW = "moderator-token-new-0123456789"
TECH_OLD = "technician-token-old-0123456789"
TECH_NEW = "technician-token-new-0123456789"


def write_config(path, source_dir, moderators, technicians, tls=None):
    """A config file of its own (the reload re-reads it); paths point into the source tree."""
    source_dir = os.path.abspath(source_dir)

    def toml_list(tokens):
        return "[" + ", ".join(f'"{t}"' for t in tokens) + "]"
    tls_lines = ""
    if tls:
        cert, key, listen = tls
        tls_lines = f'tls_listen = "{listen}"\nplain_http = "serve"\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    text = f'''[edge]
web_dir = "{os.path.join(source_dir, "web")}"
node_modules_dir = "{os.path.join(source_dir, "node_modules")}"
{tls_lines}
[ingest]
pipelines_dir = "{os.path.join(source_dir, "pipelines")}"

[qa]
moderator_tokens = {toml_list(moderators)}
technician_tokens = {toml_list(technicians)}
'''
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def reload(relay, count):
    """SIGHUP, then wait for the count-th "reloaded" line."""
    relay.proc.send_signal(signal.SIGHUP)
    relay.wait_for(lambda: relay.log_text().count("reloaded\n") >= count, 10, f"reload {count}")


def status(port, path, token=None, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request(method, path, headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


class EventStream:
    """The dashboard's event stream over HTTP/1.1, read line by line."""

    def __init__(self, port, token=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.conn.request("GET", "/api/tech/stream", headers=headers)
        self.sock = self.conn.sock  # http.client lets go of it once a response says close
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def first_event(self):
        """The first data line, or None."""
        deadline = time.time() + 10
        while time.time() < deadline:
            line = self.response.fp.readline()
            if not line:
                return None
            if line.startswith(b"data: "):
                return line
        return None

    def ended_within(self, seconds):
        """True when the server ends the stream within `seconds` (events keep coming until then)."""
        self.sock.settimeout(seconds)
        deadline = time.time() + seconds
        try:
            while time.time() < deadline:
                if not self.response.fp.readline():
                    return True
        except (TimeoutError, OSError):
            return False
        return False

    def close(self):
        self.response.close()
        self.conn.close()


class H2EventStream:
    """The same stream on an HTTP/2 connection (python3-h2 over TLS)."""

    def __init__(self, port, token):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = __import__("socket").create_connection(("127.0.0.1", port), timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.h2.initiate_connection()
        self.stream = self.h2.get_next_available_stream_id()
        self.h2.send_headers(self.stream, [(":method", "GET"), (":path", "/api/tech/stream"),
                                           (":scheme", "https"), (":authority", "localhost"),
                                           ("authorization", f"Bearer {token}")], end_stream=True)
        self.sock.sendall(self.h2.data_to_send())
        self.status = None
        self.data = b""
        self.ended = False

    def pump(self, until, seconds):
        """Reads frames until until() or the time is up; True when until() held."""
        deadline = time.time() + seconds
        while time.time() < deadline and not until():
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not chunk:
                self.ended = True
                break
            for event in self.h2.receive_data(chunk):
                if isinstance(event, h2.events.ResponseReceived):
                    self.status = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.DataReceived):
                    self.data += event.data
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    self.ended = True
            self.sock.sendall(self.h2.data_to_send())
        return until()

    def close(self):
        self.sock.close()


async def open_ws(port, token):
    """A Q&A WebSocket, signed in with its first message."""
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/api/qa/ws?room=current",
                                  open_timeout=10, ping_interval=None, max_size=None)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    return ws


async def close_code_within(ws, seconds):
    """The close code the server sends within `seconds`, or None while it stays open."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else e.code
    except (asyncio.TimeoutError, TimeoutError):
        return None


def self_signed(folder):
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    return cert, key


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run(args, c):
    folder = tempfile.mkdtemp(prefix="relay-auth-reload-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    config = os.path.join(folder, "relay.toml")
    cert, key = self_signed(folder)
    tls_port = free_port()
    tls = (cert, key, f"127.0.0.1:{tls_port}")
    # Start: a moderator, and no technician: the technician's surfaces are closed (issue 16).
    write_config(config, args.source_dir, [MOD_OLD], [], tls)
    relay = Relay(args.binary, args.source_dir, LIGHT + ["log.level=info"], config=config)
    try:
        port = relay.port
        relay.wait_for(lambda: QaClient(port).call("GET", "/api/qa/rooms")[0] == 200, 30, "the Q&A API")

        tech_routes = ["/api/incidents", "/api/tech/thumbnail.jpg"]
        for path in tech_routes:
            c.check(status(port, path) == 401, f"{path} is closed without technician tokens")
        c.check(status(port, "/api/tech/stream", method="HEAD") == 401, "the stream's HEAD is closed too")
        c.check(EventStream(port).status == 401, "no event stream opens without a token")
        c.check(QaClient(port, MOD_OLD).call("GET", "/api/qa/me")[1].get("role") == "moderator",
                "the first moderator token works")
        moderator_ws = await open_ws(port, MOD_OLD)
        attendee, _ = new_attendee(port, "Ann")
        attendee_ws = await open_ws(port, attendee.token)
        await moderator_ws.recv()  # the snapshots
        await attendee_ws.recv()

        # Reload 1: the first technician token, and the moderator token replaced.
        write_config(config, args.source_dir, [MOD_NEW], [TECH_OLD], tls)
        reload(relay, 1)
        for path in tech_routes:
            c.check(status(port, path) == 401, f"{path} is closed once a technician token exists")
            c.check(status(port, path, TECH_OLD) != 401, f"{path} opens with the technician token")
            c.check(status(port, f"{path}?token={TECH_OLD}") == 401, f"{path} does not take a token in the query")
        c.check(status(port, "/api/tech/stream", method="HEAD") == 401, "the stream's HEAD is closed")
        c.check(status(port, "/api/tech/stream", TECH_OLD, method="HEAD") == 200, "and opens with the token")
        c.check(EventStream(port).status == 401, "a new event stream without a token is refused")
        for path in ["/api/qa/me", "/api/qa/rooms/current/export.csv"]:
            c.check(QaClient(port, MOD_OLD).call("GET", path)[0] == 401, f"{path}: the withdrawn moderator token fails")
            c.check(QaClient(port, MOD_NEW).call("GET", path)[0] == 200, f"{path}: the new moderator token works")
        code = await close_code_within(moderator_ws, 5)
        c.check(code == 4001, f"the withdrawn moderator's WebSocket is closed with 4001 ({code})")
        code = await close_code_within(attendee_ws, 1)
        c.check(code is None, f"an attendee's WebSocket stays open ({code})")
        new_moderator_ws = await open_ws(port, MOD_NEW)
        await new_moderator_ws.recv()
        code = await close_code_within(await open_ws(port, MOD_OLD), 5)
        c.check(code == 4003, f"a WebSocket with the withdrawn token is refused with 4003 ({code})")

        # Reload 2: the technician token replaced, with streams open on HTTP/1.1 and HTTP/2.
        old_stream = EventStream(port, TECH_OLD)
        c.check(old_stream.status == 200 and old_stream.first_event() is not None, "the technician's stream opens")
        h2_stream = H2EventStream(tls_port, TECH_OLD)
        c.check(h2_stream.pump(lambda: b"data: " in h2_stream.data, 10) and h2_stream.status == 200,
                "the technician's stream opens over HTTP/2")
        write_config(config, args.source_dir, [MOD_NEW], [TECH_NEW], tls)
        reload(relay, 2)
        for path in tech_routes:
            c.check(status(port, path, TECH_OLD) == 401, f"{path}: the withdrawn technician token fails")
            c.check(status(port, path, TECH_NEW) != 401, f"{path}: the new technician token works")
        c.check(old_stream.ended_within(5), "the withdrawn technician's event stream ends")
        old_stream.close()
        c.check(h2_stream.pump(lambda: h2_stream.ended, 5), "the withdrawn technician's HTTP/2 event stream ends")
        h2_stream.close()
        c.check(EventStream(port, TECH_OLD).status == 401, "a new stream with the withdrawn token is refused")
        new_stream = EventStream(port, TECH_NEW)
        c.check(new_stream.status == 200 and new_stream.first_event() is not None, "the new token's stream opens")
        new_stream.close()
        code = await close_code_within(new_moderator_ws, 1)
        c.check(code is None, f"a moderator whose token stayed keeps the WebSocket ({code})")
        for ws in (attendee_ws, new_moderator_ws):
            await ws.close()
        log = relay.log_text()
        for secret in (MOD_OLD, MOD_NEW, TECH_OLD, TECH_NEW):
            c.check(secret not in log, "no token reaches the log")
    finally:
        relay.stop()


def main():
    args = parse_args()
    c = Checks()
    asyncio.run(run(args, c))
    c.finish()


if __name__ == "__main__":
    main()
