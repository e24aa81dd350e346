"""Graceful shutdown and reload (issue 7 item 5).

SIGHUP re-reads the same config file with the same --set overrides: a changed
moderator token and body limit apply at once while a playlist-polling client
keeps its connection; a setting that needs a restart is named in the log; a
broken file is reported and the running settings stay.

SIGTERM stops accepting, lets a large download in flight complete, answers a
held LL-HLS request, closes the Q&A WebSocket with 1001 and exits 0."""
import atexit
import os
import shutil
import signal
import socket
import tempfile
import time

from qa_harness import QaClient, connect, new_attendee
from relay_harness import LIGHT, Checks, Relay, media_segments, parse_args
from test_edge_limits import open_socket, read_response
from ws_client import WebSocketClosed

OLD_TOKEN = "moderator-token-old-0123456789"
NEW_TOKEN = "moderator-token-new-0123456789"


def write_config(path, source_dir, token, body_bytes=65536, slate_text="Pause", broken=False):
    """A config file of its own (the reload re-reads it); paths point into the source tree."""
    text = f'''[edge]
web_dir = "{os.path.join(source_dir, "web")}"
node_modules_dir = "{os.path.join(source_dir, "node_modules")}"
max_body_bytes = {body_bytes}
shutdown_grace_s = 10
{"threads = 0" if broken else ""}

[ingest]
pipelines_dir = "{os.path.join(source_dir, "pipelines")}"
test_pattern = "snow"
slate_text = "{slate_text}"

[qa]
moderator_tokens = ["{token}"]
'''
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    args = parse_args()
    c = Checks()
    folder = tempfile.mkdtemp(prefix="relay-lifecycle-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    config = os.path.join(folder, "relay.toml")
    write_config(config, args.source_dir, OLD_TOKEN)

    # Noise does not compress: segments big enough to be still in flight at SIGTERM.
    relay = Relay(args.binary, args.source_dir, LIGHT + ["log.level=info"], config=config)
    try:
        port = relay.port
        relay.wait_for(lambda: QaClient(port).call("GET", "/api/qa/rooms")[0] == 200, 30, "the Q&A API")
        segments = relay.wait_for_segments("360p", 2)
        old, new = QaClient(port, OLD_TOKEN), QaClient(port, NEW_TOKEN)
        c.check(old.call("GET", "/api/qa/rooms/current/export.csv")[0] == 200, "the old token works before reload")

        # --- SIGHUP with a changed token and body limit, while a player polls on one connection.
        poller = open_socket(port)
        poller.sendall(b"GET /live/360p/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")
        c.check(read_response(poller)[0] == 200, "the poller's first playlist")
        write_config(config, args.source_dir, NEW_TOKEN, body_bytes=1024, slate_text="Back soon")
        relay.proc.send_signal(signal.SIGHUP)
        relay.wait_for(lambda: "reloaded" in relay.log_text(), 10, "the reload")
        c.check(old.call("GET", "/api/qa/rooms/current/export.csv")[0] == 401, "the old token is refused after reload")
        c.check(new.call("GET", "/api/qa/rooms/current/export.csv")[0] == 200, "the new token works after reload")
        attendee, _ = new_attendee(port, "Ann")
        status, value, _ = attendee.call("POST", "/api/qa/rooms/current/questions", {"text": "x" * 1500})
        c.check(status == 413, f"the reloaded body limit applies ({status})")
        c.check("ingest.slate_text changed; it needs a restart" in relay.log_text(),
                "a setting that cannot change live is named as needing a restart")
        poller.sendall(b"GET /live/360p/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            status = read_response(poller)[0]
        except OSError as e:
            status = e
        c.check(status == 200, f"the polling player keeps its connection across the reload ({status})")
        poller.close()

        # --- SIGHUP with a broken file: logged, the running settings stay.
        write_config(config, args.source_dir, "moderator-token-never-0123456789", broken=True)
        relay.proc.send_signal(signal.SIGHUP)
        relay.wait_for(lambda: "reload failed" in relay.log_text(), 10, "the failed reload in the log")
        log = relay.log_text()
        c.check("edge.threads" in log and "relay.toml:" in log, "the reload error names the file, line and key")
        c.check(relay.proc.poll() is None, "the relay keeps running after a broken reload")
        c.check(new.call("GET", "/api/qa/rooms/current/export.csv")[0] == 200, "the running token still works")

        # --- SIGTERM during a large download, with a WebSocket open and a request held.
        ws = connect(port, attendee.token)
        try:
            while True:
                ws.recv(timeout=1)
        except (socket.timeout, TimeoutError):
            pass
        playlist = relay.get("/live/360p/index.m3u8").decode()
        last = media_segments(playlist)[-1]
        segment = f"/live/360p/{last[2]}"
        size = len(relay.get(segment))
        msn = last[0] + 1  # the segment being made: its playlist is held until it is complete
        held = open_socket(port, timeout=20)
        held.sendall(f"GET /live/360p/index.m3u8?_HLS_msn={msn} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

        download = open_socket(port, rcvbuf=8192, timeout=20)
        download.sendall(f"GET {segment} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        first = download.recv(4096)
        time.sleep(0.3)
        relay.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            refused = True
        c.check(refused, "no new connection is accepted once SIGTERM arrived")
        received = first
        while True:  # slowly: the download is still in flight when the drain starts
            chunk = download.recv(16384)
            if not chunk:
                break
            received += chunk
            time.sleep(0.02)
        download.close()
        body = received.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in received else b""
        c.check(len(body) == size, f"the download in flight completes ({len(body)} of {size} B)")
        try:
            status = read_response(held)[0]
        except OSError as e:
            status = e
        c.check(status in (200, 503), f"the held playlist request is answered ({status})")
        held.close()
        closed = None
        try:
            while True:
                ws.recv(timeout=10)
        except WebSocketClosed as e:
            closed = e.code
        except OSError:
            pass
        c.check(closed == 1001, f"the Q&A WebSocket is closed with 1001 going away ({closed})")
        try:
            code = relay.proc.wait(timeout=20)
        except Exception:
            code = None
        c.check(code == 0, f"the relay exits 0 after SIGTERM ({code})")
    finally:
        relay.stop()
    c.finish()


if __name__ == "__main__":
    main()
