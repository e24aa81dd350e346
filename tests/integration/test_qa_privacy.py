"""The Q&A's privacy and abuse controls over real HTTP and WebSocket:
- watching needs no identity: a WebSocket without a token gets the public snapshot;
- a ban closes the attendee's open WebSocket (4003 "banned") within a second, and
  their token opens no new one;
- a network ban refuses new identities from the banned attendee's network until unbanned;
- an attendee deletes their own question: gone from the database, every page gets
  question_removed, nobody else may delete it;
- the data folder is created 0700; the database, its WAL and shared-memory files,
  the lock file and the incident log are 0600;
- `seminar-relay purge` refuses while the relay holds the database and, once it is
  stopped, deletes what was created before --before and says how much."""
import os
import sqlite3
import stat
import subprocess
import tempfile
import time

from qa_harness import MODERATOR, QaClient, WebSocketClosed, HandshakeRefused, connect, new_attendee, start_relay
from relay_harness import Checks, parse_args

# One small rendition: this test is about the Q&A, not the ladder.
ONE_RENDITION = [
    "ingest.width=320", "ingest.height=180",
    'encoder.renditions=[{name="180p",width=320,height=180,bitrate_kbps=200,profile="baseline"}]',
]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def count_rows(db, sql, *params):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def recv_until(ws, predicate, timeout):
    """The first event that matches, or None when none came in time (or the socket closed)."""
    deadline = time.time() + timeout
    try:
        while True:
            event = ws.recv(timeout=max(0.05, deadline - time.time()))
            if predicate(event):
                return event
    except (TimeoutError, WebSocketClosed):
        return None


def main():
    args = parse_args()
    c = Checks()
    parent = tempfile.mkdtemp(prefix="relay-qa-privacy-")
    data_dir = os.path.join(parent, "qa")  # the relay creates it
    relay = start_relay(args, data_dir=data_dir, extra=ONE_RENDITION + ["qa.auto_approve=true"])
    db = os.path.join(data_dir, "qa.sqlite3")
    with relay:
        port = relay.port
        moderator = QaClient(port, MODERATOR)

        # Watching without an identity.
        try:
            viewer = connect(port, "")
            snapshot = viewer.recv()
        except HandshakeRefused as e:
            viewer, snapshot = connect(port, MODERATOR), {"refused": e.status}
            viewer.recv()
        c.check(snapshot.get("type") == "snapshot" and snapshot.get("role") == "viewer",
                f"a WebSocket without a token gets the public snapshot: {snapshot}")

        # Delete one's own question.
        bob, _ = new_attendee(port, "Bob")
        status, asked, _ = bob.call("POST", "/api/qa/rooms/current/questions", {"text": "Delete me, please"})
        c.check(status == 201, f"Bob asks ({status} {asked})")
        qid = asked["id"]
        c.check(recv_until(viewer, lambda e: e["type"] == "question" and e["question"]["id"] == qid, 5),
                "the viewer sees the published question")
        eve, _ = new_attendee(port, "Eve")
        status, value, _ = eve.call("DELETE", f"/api/qa/questions/{qid}")
        c.check(status == 403 and value.get("error") == "not_author", f"only the author deletes ({status} {value})")
        status, value, _ = moderator.call("DELETE", f"/api/qa/questions/{qid}")
        c.check(status == 403, f"a moderator rejects or hides, but does not delete ({status} {value})")
        status, value, _ = bob.call("DELETE", f"/api/qa/questions/{qid}")
        c.check(status == 200 and value == {"id": qid, "deleted": True}, f"the author deletes it ({status} {value})")
        removed = recv_until(viewer, lambda e: e["type"] == "question_removed", 5)
        c.check(removed and removed["id"] == qid, f"the live pages get question_removed: {removed}")
        items = moderator.ok("GET", "/api/qa/rooms/current/questions")["items"]
        c.check(all(i["id"] != qid for i in items), f"the moderator no longer lists it: {items}")
        c.check(count_rows(db, "SELECT COUNT(*) FROM questions WHERE id = ?", qid) == 0,
                "the question is gone from the database")
        status, _, _ = bob.call("DELETE", f"/api/qa/questions/{qid}")
        c.check(status == 404, f"deleting it again: 404 ({status})")

        # A ban reaches the open WebSocket within a second.
        ann, ann_info = new_attendee(port, "Ann")
        ann.ok("POST", "/api/qa/rooms/current/questions", {"text": "Seen from my network"})
        ann_ws = connect(port, ann.token)
        c.check(ann_ws.recv()["type"] == "snapshot", "Ann's feed opens")
        started = time.monotonic()
        result = moderator.ok("POST", f"/api/qa/attendees/{ann_info['id']}/ban", {"network": True})
        closed = None
        try:
            while time.monotonic() - started < 1.0:
                ann_ws.recv(timeout=max(0.05, 1.0 - (time.monotonic() - started)))
        except WebSocketClosed as e:
            closed = (e.code, e.reason, time.monotonic() - started)
        except TimeoutError:
            pass
        c.check(closed is not None and closed[0] == 4003 and closed[1] == "banned",
                f"the banned attendee's WebSocket is closed with 4003 'banned' within 1 s: {closed}")
        again = connect(port, ann.token)
        try:
            got = again.recv(timeout=5)
            c.check(False, f"the banned token opens no new feed, got {got}")
        except WebSocketClosed as e:
            c.check((e.code, e.reason) == (4003, "banned"),
                    f"the banned token's new feed is closed with 4003 'banned': {e.code} {e.reason}")
        again.close()
        ann_ws.close()

        # The network ban: no new identities from Ann's network (127.0.0.1 here) until she is unbanned.
        c.check(result.get("network") is True and result.get("network_until", 0) > time.time() * 1000,
                f"the ban names the network ban and its end: {result}")
        status, value, _ = QaClient(port).call("POST", "/api/qa/attendees", {"name": "Ann again"})
        c.check(status == 403 and value.get("error") == "banned",
                f"a new identity from the banned network is refused ({status} {value})")
        status, value, _ = bob.call("POST", "/api/qa/rooms/current/questions", {"text": "From the same network"})
        c.check(status == 403 and value.get("error") == "banned",
                f"an attendee asking from the banned network is refused ({status} {value})")
        moderator.ok("DELETE", f"/api/qa/attendees/{ann_info['id']}/ban")
        status, value, _ = QaClient(port).call("POST", "/api/qa/attendees", {"name": "Carl"})
        c.check(status == 201, f"unbanning lifts the network ban ({status} {value})")
        viewer.close()

        # Files of the data folder.
        c.check(mode(data_dir) == 0o700, f"the data folder is 0700 ({oct(mode(data_dir))})")
        for name in ["qa.sqlite3", "qa.sqlite3-wal", "qa.sqlite3-shm", "qa.sqlite3.lock", "incidents.jsonl"]:
            path = os.path.join(data_dir, name)
            c.check(os.path.exists(path) and mode(path) == 0o600,
                    f"{name} is 0600 ({oct(mode(path)) if os.path.exists(path) else 'missing'})")

        # purge refuses while the relay holds the database.
        purge = [args.binary, "purge", "--config", os.path.join(args.source_dir, "config", "relay.toml"),
                 "--set", f"qa.data_dir={data_dir}", "--before", "2999-01-01"]
        run = subprocess.run(purge, capture_output=True, text=True, timeout=30)
        c.check(run.returncode != 0 and "in use by another running relay" in run.stderr,
                f"purge refuses while the relay runs ({run.returncode}: {run.stdout!r} {run.stderr!r})")
        logged = [line for line in relay.log_text().splitlines()
                  if "127.0.0.1" in line.replace(f"127.0.0.1:{port}", "")]
        c.check(not logged, f"no client address in the log at info level (only the listen address): {logged}")
    questions = count_rows(db, "SELECT COUNT(*) FROM questions")
    attendees = count_rows(db, "SELECT COUNT(*) FROM attendees")
    run = subprocess.run(purge, capture_output=True, text=True, timeout=30)
    c.check(run.returncode == 0 and
            f"deleted {questions} questions, 0 votes and {attendees} attendees created before 2999-01-01" in run.stdout,
            f"purge says what it deleted ({questions} questions, {attendees} attendees): {run.returncode} "
            f"{run.stdout!r} {run.stderr!r}")
    c.check(count_rows(db, "SELECT COUNT(*) FROM questions") == 0 and
            count_rows(db, "SELECT COUNT(*) FROM attendees") == 0, "nothing is left after the purge")
    c.check(mode(db) == 0o600, f"the database is still 0600 after the purge ({oct(mode(db))})")
    run = subprocess.run(purge[:-2] + ["--before", "2024-02-30"], capture_output=True, text=True, timeout=30)
    c.check(run.returncode == 2 and "not a date" in run.stderr, f"a bad date is refused: {run.stderr!r}")
    c.finish()


if __name__ == "__main__":
    main()
