"""The Q&A on three relay instances sharing one PostgreSQL (issue 18), behind the
shipped HAProxy configuration (deploy/haproxy/seminar-relay.cfg).

One real PostgreSQL 15 cluster (pg_cluster.py), three relays A, B and C on it
(B and C Q&A-only: push receivers nothing pushes to, which encode nothing; A
also makes a small test picture, so that its health can go from ok to degraded),
and Debian's haproxy with the shipped file, only its addresses and ports
changed, in front of them. 1,500 WebSocket subscribers watch the room
(one asyncio loop in this process): 250 straight on each instance, 750 through
HAProxy.

1. Fan-out: attendees on A, B and C ask, a moderator on A approves and stages;
   every subscriber, on every instance, gets every event once and in order.
2. kill -9 of B in the middle of a burst of asks sent to B: every ask answered
   201 is in the database (read with psycopg2) and reaches every subscriber; the
   asks whose answer was lost are sent again through HAProxy with the same
   Idempotency-Key and exist exactly once; B's subscribers reconnect to A or C
   (through HAProxy, which stops sending anything to B) with since= and epoch=,
   get "resumed" and exactly what they missed.
3. Idempotency: the same ask twice with one key, to one instance and to
   another, is one question and the same answer; a malformed key is refused.
4. PostgreSQL stopped and started again: health says degraded (qa_database),
   writes answer 503 with Retry-After, reads and the open feeds go on; after
   the start writes succeed again by themselves and events flow.

At the end every subscriber's events after its first snapshot are the same
list, and match the public events the database holds for the room."""
import asyncio
import csv
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

import aiohttp
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from pg_cluster import PgCluster
from qa_harness import MODERATOR, QaClient, qa_overrides
from relay_harness import TECH_TOKEN, Checks, Relay, free_port, parse_args, raise_fd_limit

SUBSCRIBERS = 1500
DIRECT_PER_INSTANCE = 250  # the other 750 come through HAProxy
BURST_ATTENDEES = 20
BURST_ASKS_EACH = 10
KILL_AFTER_ACCEPTED = 40
PUSH_TOKEN = "cluster-push-token-0123456789abcdef"
HAPROXY = "/usr/sbin/haproxy"
DATABASE = "qa_cluster"

# Instances on one database, with the per-attendee and per-network limits
# raised: this test sends every ask from one loopback address.
CLUSTER_OVERRIDES = [
    'edge.trusted_proxies=["127.0.0.1"]', "edge.max_connections_per_ip=100000",
    "qa.attendees_per_minute=100000", "qa.attendee_burst=100000", "qa.identities_per_minute_global=1000000",
    "qa.questions_per_minute=10000", "qa.question_burst=10000",
]
# B and C serve the Q&A only: push receivers that nothing pushes to encode nothing.
QA_ONLY = ["ingest.source=push:", f'ingest.push_tokens=["{PUSH_TOKEN}"]']
# A also makes a picture (the test source, one small rendition), so that its
# health is "ok" until the database goes and then "degraded" for it alone; a
# Q&A-only instance is always "down" (no picture).
WITH_PICTURE = ["ingest.source=test:", "ingest.width=320", "ingest.height=180", "ingest.framerate=10",
                "health.input_framerate_min=5",
                'encoder.renditions=[{name="180p",width=320,height=180,bitrate_kbps=200,profile="baseline"}]']


# ---------------------------------------------------------------------------
# HAProxy with the shipped configuration

def haproxy_config(shipped, listen_port, stats_port, qa_ports, video_port):
    """The shipped file for this test: the same frontends, backends, timeouts,
    checks and balancing; only what ties it to a real host changes (addresses,
    ports, the system's log socket, chroot and user, the admin socket) and
    maxconn, which a test's open-file limit cannot give 20,000 of. Every change
    must find its line, so a reworded shipped file fails here rather than being
    tested half-changed."""
    text = shipped

    def sub(pattern, replacement, count=1):
        nonlocal text
        text, n = re.subn(pattern, replacement, text, flags=re.M)
        if n != count:
            raise AssertionError(f"the shipped haproxy config has {n} lines matching {pattern!r}, expected {count}")

    # Its state changes and warnings on its stderr, the test's log; no request lines.
    sub(r"^(\s+)log /dev/log local0$", r"\1log stderr format short local0 notice")
    for line in (r"log /dev/log local1 notice", r"chroot \S+", r"stats socket .*", r"stats timeout \S+",
                 r"user haproxy", r"group haproxy", r"daemon"):
        sub(rf"^\s+{line}\n", "")
    sub(r"^(\s+)maxconn 20000$", r"\1maxconn 2000", count=2)
    sub(r"^(\s+)bind :80$", rf"\1bind 127.0.0.1:{listen_port}")
    sub(r"^(\s+)bind 127\.0\.0\.1:8404$", rf"\1bind 127.0.0.1:{stats_port}")
    sub(r"^(\s+)server video1 \S+$", rf"\1server video1 127.0.0.1:{video_port}")
    for i, port in enumerate(qa_ports, start=1):
        sub(rf"^(\s+)server relay{i} \S+$", rf"\1server relay{i} 127.0.0.1:{port}")
    return text


class HaproxyNode:
    """Debian's haproxy in the foreground (-db) as this test's child process."""

    def __init__(self, source_dir, qa_ports, video_port):
        self.dir = tempfile.mkdtemp(prefix="relay-haproxy-")
        self.port, self.stats_port = free_port(), free_port()
        with open(os.path.join(source_dir, "deploy", "haproxy", "seminar-relay.cfg")) as f:
            shipped = f.read()
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(haproxy_config(shipped, self.port, self.stats_port, qa_ports, video_port))
        self.log = os.path.join(self.dir, "haproxy.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([HAPROXY, "-f", self.cfg, "-db"], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def stats(self):
        """{server name: row} of the relay_qa backend's servers, from the stats page's CSV."""
        status, body, _ = QaClient(self.stats_port).call("GET", "/stats;csv", timeout=5)
        if status != 200:
            raise AssertionError(f"haproxy stats: {status}")
        text = body.decode() if isinstance(body, bytes) else body
        rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
        return {row["svname"]: row for row in rows
                if row["pxname"] == "relay_qa" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Subscribers

def event_key(event):
    """What two subscribers must agree on for one event."""
    q = event.get("question") or {}
    return (event["seq"], event["type"], q.get("id", event.get("id")), q.get("state"), q.get("text"))


class Subscriber:
    """One viewer's live feed of the room, reconnecting as the page does: to
    `fallback` with since=<last seq>&epoch=<epoch> when its connection drops."""

    def __init__(self, index, home, fallback, room):
        self.index = index
        self.home, self.fallback = home, fallback  # (label, port)
        self.room = room
        self.on = None  # the label of the instance (or "lb") it is connected to
        self.epoch = None
        self.first_seq = None  # the seq of its first snapshot
        self.last_seq = None
        self.events = []  # event_key() of every event after the first snapshot, in arrival order
        self.arrived = {}  # (question id, state) -> monotonic time of its first arrival
        self.opens = []  # (label, type of the first message) per connection
        self.drops = []  # (monotonic time, label) of each connection that ended under it
        self.problems = []  # a seq out of order or twice, a snapshot where a resume was due, ...
        self.ws = None
        self.stopping = False
        self.failed = None  # why it gave up reconnecting

    def url(self, port):
        url = f"ws://127.0.0.1:{port}/api/qa/ws?room={self.room}"
        if self.last_seq is not None:
            url += f"&since={self.last_seq}&epoch={self.epoch}"
        return url

    def take(self, event, now):
        kind = event.get("type")
        if kind == "snapshot":
            if self.first_seq is not None:
                self.problems.append(f"a snapshot instead of a resume on {self.on} (seq {event.get('seq')})")
                return
            self.epoch, self.first_seq, self.last_seq = event["epoch"], event["seq"], event["seq"]
            return
        if kind == "resumed":
            if event.get("since") != self.last_seq or event.get("epoch") != self.epoch:
                self.problems.append(f"resumed from {event.get('since')}/{event.get('epoch')} on {self.on}, "
                                     f"asked {self.last_seq}/{self.epoch}")
            return
        seq = event.get("seq")
        if not isinstance(seq, int) or seq <= self.last_seq:
            self.problems.append(f"seq {seq} after {self.last_seq} on {self.on}")
            return
        self.last_seq = seq
        self.events.append(event_key(event))
        q = event.get("question")
        if q:
            self.arrived.setdefault((q["id"], q["state"]), now)

    async def connect(self, label, port):
        ws = await websockets.connect(self.url(port), open_timeout=15, close_timeout=2, compression=None,
                                      ping_interval=None, max_size=None)
        try:
            await ws.send('{"type": "auth"}')
            first = json.loads(await asyncio.wait_for(ws.recv(), 15))
        except BaseException:
            ws.transport.abort()
            raise
        self.on = label
        batch = first if isinstance(first, list) else [first]
        self.opens.append((label, batch[0].get("type")))
        now = time.monotonic()
        for event in batch:
            self.take(event, now)
        self.ws = ws

    async def read(self):
        ws = self.ws
        try:
            while True:
                text = await ws.recv()
                now = time.monotonic()
                value = json.loads(text)
                for event in value if isinstance(value, list) else [value]:
                    self.take(event, now)
        except ConnectionClosed:
            pass

    async def live(self):
        """Reads until stopped; after a drop, reconnects to the fallback (for 30 s at most)."""
        while True:
            await self.read()
            if self.stopping:
                return
            self.drops.append((time.monotonic(), self.on))
            label, port = self.fallback
            deadline = time.monotonic() + 30
            while True:
                try:
                    await self.connect(label, port)
                    break
                except (OSError, InvalidHandshake, asyncio.TimeoutError, ConnectionClosed) as e:
                    if self.stopping or time.monotonic() > deadline:
                        self.failed = f"could not reconnect to {label}: {e!r}"
                        return
                    await asyncio.sleep(0.2)

    async def close(self):
        self.stopping = True
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(), 3)
            except (asyncio.TimeoutError, OSError, ConnectionClosed):
                self.ws.transport.abort()


# ---------------------------------------------------------------------------
# HTTP

class Api:
    """The REST API over aiohttp, from inside the subscribers' event loop."""

    def __init__(self, session):
        self.session = session

    async def call(self, port, method, path, token=None, body=None, key=None, timeout=10):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        data = None if method == "GET" else json.dumps(body if body is not None else {})
        async with self.session.request(method, f"http://127.0.0.1:{port}{path}", headers=headers, data=data,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as r:
            raw = await r.read()
            try:
                value = json.loads(raw) if raw else None
            except ValueError:
                value = raw
            return r.status, value, {k.lower(): v for k, v in r.headers.items()}

    async def ok(self, port, method, path, token=None, body=None, key=None, expect=(200, 201)):
        status, value, _ = await self.call(port, method, path, token, body, key)
        if status not in expect:
            raise AssertionError(f"{method} {path} on :{port}: {status} {value!r}")
        return value

    async def attendee(self, port, name):
        return (await self.ok(port, "POST", "/api/qa/attendees", body={"name": name}))["token"]


async def until(predicate, timeout):
    """True once predicate() holds, False if it did not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else None


def health(port, detail):
    """/api/health of one instance: public (status, codes) or in full (the technician's)."""
    token = TECH_TOKEN if detail else None
    status, value, _ = QaClient(port, token).call("GET", "/api/health", timeout=5)
    return value if status == 200 and isinstance(value, dict) else {}


# ---------------------------------------------------------------------------

class Cluster:
    def __init__(self, args, pg, uri):
        self.relays = {}
        # All three at once on the new database: one of them makes the tables and
        # the first room, the others wait for it and find them.
        for label in "ABC":
            self.relays[label] = Relay(args.binary, args.source_dir, qa_overrides(
                tempfile.mkdtemp(prefix="relay-qa-"),
                CLUSTER_OVERRIDES + (WITH_PICTURE if label == "A" else QA_ONLY) +
                [f"qa.database={uri}", f"qa.database_password_file={pg.password_file}"]))
        for label in "ABC":
            relay = self.relays[label]
            relay.wait_for(lambda: QaClient(relay.port).call("GET", "/api/qa/rooms")[0] == 200, 30,
                           f"the Q&A API of instance {label}")

    def port(self, label):
        return self.relays[label].port

    def stop(self):
        return {label: relay.stop() for label, relay in self.relays.items()}


def db_questions(pg):
    """{id: text} of every question the database holds."""
    return {qid: text for qid, text in pg.sql("SELECT id, text FROM questions", dbname=DATABASE)}


async def scenario(c, cluster, lb, pg, timings):
    A, B, C = (cluster.port(x) for x in "ABC")
    t_start = time.monotonic()
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as session:
        api = Api(session)
        rooms = await api.ok(A, "GET", "/api/qa/rooms")
        room = rooms["current_room"]
        asks_path = f"/api/qa/rooms/{room}/questions"

        # --- 1,500 subscribers: 250 straight on each instance, 750 through HAProxy.
        subs = []
        for i in range(SUBSCRIBERS):
            if i < 3 * DIRECT_PER_INSTANCE:
                home = "ABC"[i % 3]
                # B's subscribers move to A or C when B dies; the others come back to where they were.
                fallback = ("AC"[i % 2] if home == "B" else home)
                subs.append(Subscriber(i, (home, cluster.port(home)), (fallback, cluster.port(fallback)), room))
            else:
                subs.append(Subscriber(i, ("lb", lb.port), ("lb", lb.port), room))
        gate = asyncio.Semaphore(64)

        async def first_connect(sub):
            async with gate:
                try:
                    await sub.connect(*sub.home)
                except (OSError, InvalidHandshake, asyncio.TimeoutError, ConnectionClosed) as e:
                    sub.failed = f"first connection to {sub.home[0]}: {e!r}"

        t0 = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(first_connect(s) for s in subs)), 90)
        timings["subscribe_s"] = time.monotonic() - t0
        connected = [s for s in subs if s.ws is not None]
        c.check(len(connected) == SUBSCRIBERS,
                f"all {SUBSCRIBERS} subscribers connected ({len(connected)}; "
                f"{[s.failed for s in subs if s.failed][:3]}) in {timings['subscribe_s']:.1f} s")
        readers = [asyncio.ensure_future(s.live()) for s in connected]
        epochs = {s.epoch for s in connected}
        first_seqs = {s.first_seq for s in connected}
        c.check(len(epochs) == 1 and len(first_seqs) == 1,
                f"every instance names the same epoch and seq in its snapshot: {epochs} {first_seqs}")
        spread = {name: int(row["scur"]) for name, row in lb.stats().items() if name.startswith("relay")}
        c.check(len(spread) == 3 and all(n >= 150 for n in spread.values()),
                f"HAProxy (leastconn) spreads its 750 feeds over the three instances: {spread}")

        # The picture comes from A alone (video1): B and C have none, and their ladder
        # would be the LIGHT one (360p first), not A's single 180p.
        masters = []
        for _ in range(6):
            status, body, _ = await api.call(lb.port, "GET", "/live/master.m3u8")
            masters.append(status == 200 and b"180p" in body and b"360p" not in body)
        c.check(all(masters), f"HAProxy sends /live/ to the relay with the picture: {masters}")

        # --- Fan-out: asks on all three instances, a moderator on A approves and stages.
        askers = {x: await api.attendee(cluster.port(x), f"asker {x}") for x in "ABC"}
        # Made now, used on other instances much later (an identity used at once
        # elsewhere is checked on its own below).
        voter = await api.attendee(C, "voter")
        idem_token = await api.attendee(A, "idem")
        asked = []
        for round_ in range(4):
            for x in "ABC":
                q = await api.ok(cluster.port(x), "POST", asks_path, askers[x],
                                 {"text": f"question {round_} from {x}"})
                asked.append(q["id"])
        # One action at a time, each once every subscriber has the one before, so
        # the delays below are each event's own and not a queue this process made.
        acted = {}  # (question id, state) -> monotonic time the moderator sent it
        arrived = True
        for qid, action, state in ([(q, "approve", "approved") for q in asked] +
                                   [(q, "stage", "on_stage") for q in asked[:3]]):
            acted[(qid, state)] = time.monotonic()
            await api.ok(A, "POST", f"/api/qa/questions/{qid}/{action}", MODERATOR)
            arrived = arrived and await until(lambda: all((qid, state) in s.arrived for s in connected), 15)
        wanted = set(acted)
        c.check(arrived, "every subscriber got every approval and staging "
                f"({sum(wanted <= s.arrived.keys() for s in connected)} of {len(connected)})")
        delays = [(s.arrived[k] - t) * 1000 for s in connected for k, t in acted.items() if k in s.arrived]
        per_instance = {}
        for s in connected:
            per_instance.setdefault(s.on, []).extend(
                (s.arrived[k] - t) * 1000 for k, t in acted.items() if k in s.arrived)
        timings["fanout_ms"] = {label: (round(percentile(v, 50)), round(percentile(v, 99)), round(max(v)))
                                for label, v in sorted(per_instance.items()) if v}
        # The first subscriber to get an event, and the last: this one process reads
        # all 1,500, so the spread between them is mostly its own reading.
        firsts = [min(s.arrived[k] for s in connected if k in s.arrived) - t for k, t in acted.items()]
        lasts = [max(s.arrived[k] for s in connected if k in s.arrived) - t for k, t in acted.items()]
        timings["fanout_first_last_ms"] = (round(statistics.median(firsts) * 1000),
                                           round(statistics.median(lasts) * 1000))
        if delays:
            print(f"fan-out, moderator's request to receipt (p50, p99, max ms) by instance: {timings['fanout_ms']}; "
                  f"all: p50 {percentile(delays, 50):.0f} ms, p99 {percentile(delays, 99):.0f} ms; "
                  f"median of the first and last receipt per event: {timings['fanout_first_last_ms']} ms", flush=True)

        # --- kill -9 of B in the middle of a burst of asks sent to B.
        await api.ok(A, "PATCH", f"/api/qa/rooms/{room}", MODERATOR, {"auto_approve": True})
        burst_tokens = [await api.attendee(B, f"burst {a}") for a in range(BURST_ATTENDEES)]
        accepted = {}  # key -> (question id, text)
        lost = {}  # key -> (token, text): sent, no answer (B died meanwhile)
        killed = asyncio.Event()

        async def burst(a, token):
            for i in range(BURST_ASKS_EACH):
                key, text = f"burst-{a}-{i}", f"burst ask {a}.{i}"
                if killed.is_set():
                    return
                try:
                    status, value, _ = await api.call(B, "POST", asks_path, token, {"text": text}, key=key)
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    lost[key] = (token, text)
                    return
                if status != 201:
                    c.check(False, f"burst ask {key} on B: {status} {value}")
                    return
                accepted[key] = (value["id"], text)
                if len(accepted) >= KILL_AFTER_ACCEPTED and not killed.is_set():
                    killed.set()
                    cluster.relays["B"].proc.kill()
                    timings["killed_at"] = time.monotonic()

        await asyncio.wait_for(asyncio.gather(*(burst(a, t) for a, t in enumerate(burst_tokens))), 60)
        c.check(killed.is_set() and cluster.relays["B"].proc.wait(5) == -signal.SIGKILL,
                f"B was killed in the burst ({len(accepted)} asks answered 201, {len(lost)} unanswered)")
        print(f"burst on B: {len(accepted)} asks answered 201, {len(lost)} without an answer when B died", flush=True)

        # Every 201 is in the database.
        in_db = db_questions(pg)
        missing = [key for key, (qid, text) in accepted.items() if in_db.get(qid) != text]
        c.check(not missing, f"every ask B answered 201 is in the database ({len(missing)} missing: {missing[:5]})")

        # The page sends an unanswered ask again, with its key; the balancer takes it to A or C.
        retried = {}
        for key, (token, text) in lost.items():
            status, value, _ = await api.call(lb.port, "POST", asks_path, token, {"text": text}, key=key)
            c.check(status == 201, f"the unanswered ask {key}, sent again through HAProxy: {status} {value}")
            if status == 201:
                retried[key] = (value["id"], text)
        in_db = db_questions(pg)
        texts = list(in_db.values())
        doubled = [t for _, t in list(accepted.values()) + list(retried.values()) if texts.count(t) != 1]
        c.check(not doubled, f"each ask of the burst exists exactly once after the retries: {doubled[:5]}")

        # HAProxy takes B out, and sends it nothing more.
        marked_down = await until(lambda: lb.stats().get("relay2", {}).get("status", "").startswith("DOWN"), 15)
        c.check(marked_down, f"HAProxy marks the killed instance down: {lb.stats().get('relay2', {}).get('status')}")
        timings["marked_down_s"] = time.monotonic() - timings["killed_at"]
        b_sessions = int(lb.stats()["relay2"]["stot"])

        # Every published ask reaches every subscriber, B's after their reconnect.
        burst_ids = {qid for qid, _ in list(accepted.values()) + list(retried.values())}
        wanted = {(qid, "approved") for qid in burst_ids}
        arrived = await until(lambda: all(wanted <= s.arrived.keys() or s.failed for s in connected), 45)
        late = [s for s in connected if not wanted <= s.arrived.keys()]
        c.check(arrived and not late, f"every ask of the burst reaches every subscriber ({len(late)} lack some; "
                f"{[s.failed for s in late if s.failed][:3]})")
        # Only B died: the feeds that dropped are B's, the 250 straight on it and
        # those HAProxy had given it.
        moved = [s for s in connected if s.drops]
        direct_b = [s for s in connected if s.home[0] == "B"]
        c.check(all(s.drops for s in direct_b) and len(moved) == len(direct_b) + spread.get("relay2", -1),
                f"B's subscribers lost their connection: {sum(1 for s in direct_b if s.drops)} of {len(direct_b)} "
                f"straight on B; {len(moved) - len(direct_b)} through HAProxy, which had {spread.get('relay2')} on B")
        bad_resume = [(s.index, s.opens[1:]) for s in moved if [t for _, t in s.opens[1:]] != ["resumed"] * len(s.drops)]
        c.check(not bad_resume, f"each reconnect was answered 'resumed': {bad_resume[:3]}")
        c.check(all(label in ("A", "C") for s in direct_b for label, _ in s.opens[1:]),
                f"B's direct subscribers went to A or C: {[s.opens for s in direct_b][:2]}")
        now_on = {name: int(row["scur"]) for name, row in lb.stats().items() if name.startswith("relay")}
        c.check(now_on.get("relay2") == 0 and now_on.get("relay1", 0) + now_on.get("relay3", 0) == 750,
                f"HAProxy's 750 feeds are all on A and C now: {now_on}")
        timings["resumed_s"] = time.monotonic() - timings["killed_at"]

        # --- Idempotency: one key, the same ask to A twice and to C once.
        first = await api.call(A, "POST", asks_path, idem_token, {"text": "asked once, sent thrice"}, key="idem-ask-1")
        again = await api.call(A, "POST", asks_path, idem_token, {"text": "asked once, sent thrice"}, key="idem-ask-1")
        other = await api.call(C, "POST", asks_path, idem_token, {"text": "asked once, sent thrice"}, key="idem-ask-1")
        c.check(first[0] == 201 and (again[0], again[1]) == (first[0], first[1]) == (other[0], other[1]),
                f"a repeat with the same key gets the first answer, on A and on C: {first[:2]} {again[:2]} {other[:2]}")
        count = pg.sql("SELECT count(*) FROM questions WHERE text = %s", ("asked once, sent thrice",),
                       dbname=DATABASE)[0][0]
        c.check(count == 1, f"three sends with one key make one question ({count})")
        target = asked[3]  # approved, never staged (a staged one is answered once the next is staged)
        v1 = await api.call(C, "POST", f"/api/qa/questions/{target}/vote", voter, key="idem-vote-1")
        v2 = await api.call(A, "POST", f"/api/qa/questions/{target}/vote", voter, key="idem-vote-1")
        c.check(v1[0] == 200 and (v1[0], v1[1]) == (v2[0], v2[1]),
                f"a vote repeated with its key on another instance gets the same answer: {v1[:2]} {v2[:2]}")
        # A page gets its identity from one instance and may send its first ask to
        # another (the balancer picks): the identity must be known there at once.
        fresh = []
        for i in range(20):
            token = await api.attendee(C, f"fresh {i}")
            status, value, _ = await api.call(A, "POST", asks_path, token, {"text": f"a fresh identity's ask {i}"})
            fresh.append(status if status == 201 else (status, value.get("error") if isinstance(value, dict) else value))
        c.check(fresh == [201] * 20, f"an identity made on C asks on A at once: {fresh}")
        for bad in ("has space", "x" * 65, "é"):
            status, value, _ = await api.call(A, "POST", asks_path, idem_token, {"text": f"bad key {len(bad)}"},
                                              key=bad)
            c.check(status == 400 and isinstance(value, dict) and value.get("error") == "bad_idempotency_key",
                    f"Idempotency-Key {bad[:10]!r}…: 400 bad_idempotency_key ({status} {value})")

        # --- PostgreSQL stops; health degrades, writes get 503, reads and feeds go on.
        ok = await until(lambda: health(A, False) == {"status": "ok", "codes": []}, 20)
        c.check(ok and "qa_database" not in health(C, False).get("codes", ["?"]),
                f"before the database goes, A's health is ok, C's has no qa_database: {health(A, False)} "
                f"{health(C, False)}")
        drops_before = sum(len(s.drops) for s in connected)
        t0 = time.monotonic()
        pg.stop()
        degraded = await until(lambda: all("qa_database" in health(p, False).get("codes", []) for p in (A, C)), 20)
        public = health(A, False)
        c.check(degraded and public == {"status": "degraded", "codes": ["qa_database"]},
                f"with the database down, /api/health says degraded with qa_database on A (and C): {public}")
        qa = health(A, True).get("qa") or {}
        c.check(qa.get("database") == "postgresql" and qa.get("state") == "unavailable" and qa.get("problem"),
                f"the technician's health names the problem: {qa}")
        c.check(pg.password not in json.dumps(qa), "the health report does not show the database password")
        status, value, headers = await api.call(A, "POST", asks_path, idem_token, {"text": "asked while down"},
                                                key="while-down-1")
        c.check(status == 503 and isinstance(value, dict) and value.get("error") == "database_unavailable"
                and int(headers.get("retry-after", "0")) > 0,
                f"an ask while the database is down: 503 database_unavailable with Retry-After "
                f"({status} {value} {headers.get('retry-after')})")
        status, value, headers = await api.call(C, "POST", f"/api/qa/questions/{asked[5]}/stage", MODERATOR)
        c.check(status == 503 and headers.get("retry-after"), f"a moderator's action too: {status} {value}")
        status, value, _ = await api.call(C, "GET", asks_path)
        c.check(status == 200 and len(value.get("items", [])) >= len(asked) + len(burst_ids),
                f"reads go on from memory: {status} {len(value.get('items', [])) if isinstance(value, dict) else value}")
        status, value, _ = await api.call(lb.port, "GET", asks_path)
        states = {name: row["status"] for name, row in lb.stats().items()}
        c.check(status == 200 and states.get("relay1") == "UP" and states.get("relay3") == "UP",
                f"HAProxy keeps the instances in while the database is down: {status} {states}")

        pg.start()
        timings["database_down_s"] = time.monotonic() - t0
        # The page's retry: the same key, after Retry-After, until it is taken.
        t0 = time.monotonic()
        deadline = t0 + 30
        while True:
            status, value, headers = await api.call(A, "POST", asks_path, idem_token, {"text": "asked while down"},
                                                    key="while-down-1")
            if status != 503 or time.monotonic() > deadline:
                break
            await asyncio.sleep(min(1.0, int(headers.get("retry-after", "1"))))
        timings["recovered_s"] = time.monotonic() - t0
        c.check(status == 201, f"after the database is back the retried ask is taken: {status} {value} "
                f"({timings['recovered_s']:.1f} s after the start)")
        recovered_id = value["id"] if status == 201 else None
        healthy = await until(lambda: health(A, False) == {"status": "ok", "codes": []} and
                              "qa_database" not in health(C, False).get("codes", ["?"]), 30)
        c.check(healthy and (health(C, True).get("qa") or {}).get("state") == "ok",
                f"health recovers on A and C: {health(A, False)} {health(C, True).get('qa')}")
        status, value, _ = await api.call(C, "POST", f"/api/qa/questions/{asked[5]}/stage", MODERATOR)
        c.check(status == 200, f"a moderator's action after the restart: {status} {value}")
        wanted = {(asked[5], "on_stage")} | ({(recovered_id, "approved")} if recovered_id else set())
        flowing = await until(lambda: all(wanted <= s.arrived.keys() for s in connected), 30)
        c.check(flowing, f"events flow again to every subscriber after the restart "
                f"({sum(wanted <= s.arrived.keys() for s in connected)} of {len(connected)})")
        count = pg.sql("SELECT count(*) FROM questions WHERE text = %s", ("asked while down",), dbname=DATABASE)[0][0]
        c.check(count == 1, f"the ask retried across the outage exists once ({count})")
        drops = sum(len(s.drops) for s in connected) - drops_before
        c.check(drops == 0, f"no live feed was closed while the database was down ({drops})")

        # --- After all that: HAProxy sent B nothing more; every subscriber has the same events.
        c.check(int(lb.stats()["relay2"]["stot"]) == b_sessions,
                f"HAProxy sent nothing to B once it was down ({b_sessions} -> {lb.stats()['relay2']['stot']})")
        # Everything waited for has arrived; a last event may still be on its way to some.
        await until(lambda: len({len(s.events) for s in connected}) == 1, 5)
        reference = max((s.events for s in connected), key=len)
        different = [s for s in connected if s.events != reference]
        c.check(not different, f"every subscriber got the same {len(reference)} events, once each, in order "
                f"({len(different)} differ, e.g. #{different[0].index if different else '-'})")
        problems = [(s.index, s.problems[:2]) for s in connected if s.problems]
        c.check(not problems, f"no seq out of order or twice, no snapshot instead of a resume: {problems[:3]}")
        public_events = public_events_in_database(pg, room, next(iter(first_seqs)))
        if public_events is not None:
            c.check([e[:2] for e in reference] == public_events,
                    f"the events are exactly the room's public events in the database "
                    f"({len(reference)} received, {len(public_events)} in the database)")
        timings["scenario_s"] = time.monotonic() - t_start

        for s in connected:
            s.stopping = True
        await asyncio.wait_for(asyncio.gather(*(s.close() for s in connected)), 30)
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


def public_events_in_database(pg, room, after_seq):
    """[(seq, type)] of the events a viewer of `room` gets after `after_seq`, from the
    database's event log; None when the log's table is not where this expects it."""
    try:
        rows = pg.sql("SELECT seq, everyone FROM events WHERE seq > %s AND room = %s "
                      "AND everyone <> '' ORDER BY seq", (after_seq, room), dbname=DATABASE)
    except Exception as e:  # noqa: BLE001 (the schema is the store's; report, do not guess)
        print(f"could not read the event log: {e}", flush=True)
        return None
    out = []
    for seq, text in rows:
        value = json.loads(text)
        for event in value if isinstance(value, list) else [value]:
            out.append((seq, event["type"]))
    return out


def wait(predicate, timeout):
    """True once predicate() holds (errors count as not yet), False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except (OSError, AssertionError, KeyError):
            pass
        time.sleep(0.1)
    return False


def cpu_seconds(pid):
    """User and system CPU time of a running process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    args = parse_args()
    c = Checks()
    started = time.monotonic()
    raise_fd_limit(8192)
    shipped = os.path.join(args.source_dir, "deploy", "haproxy", "seminar-relay.cfg")
    check = subprocess.run([HAPROXY, "-c", "-f", shipped], capture_output=True, text=True, timeout=30)
    c.check(check.returncode == 0, f"haproxy -c accepts the shipped {shipped}: {check.stdout}{check.stderr}")

    timings = {}
    with PgCluster() as pg:
        pg.start()
        uri = pg.create_database(DATABASE)
        cluster = lb = None
        try:
            cluster = Cluster(args, pg, uri)
            lb = HaproxyNode(args.source_dir, [cluster.port(x) for x in "ABC"], cluster.port("A"))
            c.check(wait(lambda: [r["status"] for r in lb.stats().values()].count("UP") == 3, 20),
                    f"HAProxy sees the three instances up: {lb.log_text()[-500:]}")
            timings["setup_s"] = time.monotonic() - started
            asyncio.run(asyncio.wait_for(scenario(c, cluster, lb, pg, timings), 240))
            cpu = {f"relay {x}": cpu_seconds(cluster.relays[x].proc.pid) for x in "AC"}
            cpu["haproxy"] = cpu_seconds(lb.proc.pid)
            cpu["test (subscribers, clients)"] = time.process_time()
            timings["cpu_s"] = {k: round(v, 1) for k, v in cpu.items()}
            logs = {label: relay.log_text() for label, relay in cluster.relays.items()}
            codes = cluster.stop()
            c.check(codes["A"] == 0 and codes["C"] == 0, f"A and C stop cleanly: {codes}")
            for label, text in logs.items():
                c.check(pg.password not in text and MODERATOR not in text,
                        f"no password or token in instance {label}'s log")
        finally:
            if lb is not None:
                print("haproxy:\n" + lb.log_text()[-1500:], flush=True)
                lb.stop()
            if cluster is not None:
                cluster.stop()
            timings["total_s"] = time.monotonic() - started
            print("timings: " + json.dumps({k: (round(v, 2) if isinstance(v, float) else v)
                                            for k, v in timings.items() if k != "killed_at"}), flush=True)
    c.finish()


if __name__ == "__main__":
    main()
