"""Q&A helpers for the integration tests: the relay with role tokens and its own
data folder, a REST client per caller, WebSocket subscriptions."""
import atexit
import http.client
import json
import shutil
import tempfile
import time

from relay_harness import LIGHT, Relay
from ws_client import WebSocket, WebSocketClosed, HandshakeRefused  # noqa: F401 (re-exported)

MODERATOR = "moderator-token-0123456789abcdef"
SPEAKER = "speaker-token-0123456789abcdef"


def qa_overrides(data_dir, extra=()):
    return LIGHT + [
        f"qa.data_dir={data_dir}",
        f'qa.moderator_tokens=["{MODERATOR}"]',
        f'qa.speaker_tokens=["{SPEAKER}"]',
        "log.level=info",
    ] + list(extra)


def start_relay(args, data_dir=None, extra=(), port=None):
    """The relay on a fresh (or the given) Q&A data folder, once its API answers."""
    if not data_dir:
        data_dir = tempfile.mkdtemp(prefix="relay-qa-")
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    relay = Relay(args.binary, args.source_dir, qa_overrides(data_dir, extra), port=port)
    relay.data_dir = data_dir
    try:
        relay.wait_for(lambda: QaClient(relay.port).call("GET", "/api/qa/rooms")[0] == 200, 30, "the Q&A API")
    except BaseException:
        relay.stop()  # no relay outlives a test that could not start it
        raise
    return relay


class QaClient:
    """The REST API, as one caller (a bearer token or none)."""

    def __init__(self, port, token=None):
        self.port = port
        self.token = token

    def call(self, method, path, body=None, raw=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if self.token:
                h["Authorization"] = f"Bearer {self.token}"
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            if data is not None:
                h.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            payload = r.read()
            ctype = r.getheader("Content-Type", "")
            value = json.loads(payload) if ctype.startswith("application/json") and payload else payload
            return r.status, value, {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()

    def ok(self, method, path, body=None, expect=(200, 201)):
        status, value, _ = self.call(method, path, body)
        if status not in expect:
            raise AssertionError(f"{method} {path}: {status} {value!r}")
        return value


def new_attendee(port, name=""):
    value = QaClient(port).ok("POST", "/api/qa/attendees", {"name": name})
    return QaClient(port, value["token"]), value


def connect(port, token, room="current", since=None, epoch=None, **kw):
    """A feed of the room, signed in as a page does: the token in the first message, never in the URL."""
    path = f"/api/qa/ws?room={room}"
    if since is not None:
        path += f"&since={since}"
    if epoch:
        path += f"&epoch={epoch}"
    ws = WebSocket(port, path, **kw)
    ws.send_text(json.dumps({"type": "auth", "token": token}))
    return ws


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
