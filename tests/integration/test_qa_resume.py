"""WebSocket resume: a subscriber whose connection drops in the middle of a burst
reconnects with since=<last seq> (and its epoch) and gets exactly the events it
missed, none twice; one too far behind, or from another epoch, gets a fresh
snapshot; a client that stops reading is closed with 4008 and catches up the same
way. Checked from the moderator's feed, which sees every event of the room."""
import threading
import time

from qa_harness import MODERATOR, QaClient, WebSocketClosed, connect, new_attendee, start_relay
from relay_harness import Checks, parse_args


def collect_until_quiet(ws, quiet=1.0):
    out = []
    while True:
        try:
            out.append(ws.recv(timeout=quiet))
        except TimeoutError:
            return out


def main():
    args = parse_args()
    c = Checks()
    relay = start_relay(args, extra=["qa.ws_queue_limit=16", "qa.ws_resume_events=5000"])
    with relay:
        port = relay.port
        moderator = QaClient(port, MODERATOR)
        ann, _ = new_attendee(port, "Ann")

        ws = connect(port, MODERATOR)
        snap = ws.recv()
        # The log numbers every write (creating Ann too); count from here.
        epoch, seen = snap["epoch"], [snap["seq"]]
        base = snap["seq"]

        # A burst of 60 questions while we read; the connection drops after 20 events.
        def burst(n, prefix):
            for i in range(n):
                moderator.ok("POST", "/api/qa/rooms/current/questions", {"text": f"{prefix} {i}"})

        producer = threading.Thread(target=burst, args=(60, "burst"))
        producer.start()
        while len(seen) < 21:
            seen.append(ws.recv()["seq"])
        ws.close(abrupt=True)
        producer.join()
        burst(10, "while away")

        ws = connect(port, MODERATOR, since=seen[-1], epoch=epoch)
        first = ws.recv()
        c.check(first["type"] == "resumed" and first["since"] == seen[-1] and first["latest"] == base + 70,
                f"resumed, not a snapshot: {first}")
        rest = collect_until_quiet(ws)
        seqs = seen[1:] + [e["seq"] for e in rest]
        c.check(seqs == list(range(base + 1, base + 71)), f"every event exactly once across the drop: {seqs}")
        texts = [e["question"]["text"] for e in rest]
        c.check(texts[-1] == "while away 9", f"the events carry their content: {texts[-3:]}")
        # They were all waiting when the feed started: one message, a JSON array (docs/qa.md).
        c.check(ws.messages == 1, f"the missed events come in one message ({ws.messages} messages)")
        ws.close()

        # Too far behind (a resume buffer of 5000 holds everything here, so use another
        # epoch) and a seq from the future: a snapshot instead.
        for label, since, ep in [("another epoch", 5, "0123456789abcdef"), ("a future seq", base + 1000, epoch)]:
            ws = connect(port, MODERATOR, since=since, epoch=ep)
            msg = ws.recv()
            c.check(msg["type"] == "snapshot" and msg["seq"] == base + 70 and len(msg["items"]) == 70,
                    f"{label}: a fresh snapshot with all 70 questions ({msg['type']}, {msg.get('seq')})")
            ws.close()

        # An attendee's feed resumes too: only public events, still none lost or doubled.
        bob_ws = connect(port, ann.token)
        bob_snap = bob_ws.recv()
        ids = [item["id"] for item in moderator.ok("GET", "/api/qa/rooms/current/questions")["items"]]
        for qid in ids[:10]:
            moderator.ok("POST", f"/api/qa/questions/{qid}/approve")
        got = []
        while len(got) < 4:
            got.append(bob_ws.recv())
        bob_ws.close(abrupt=True)
        bob_ws = connect(port, ann.token, since=got[-1]["seq"], epoch=bob_snap["epoch"])
        c.check(bob_ws.recv()["type"] == "resumed", "the attendee resumes")
        got += collect_until_quiet(bob_ws)
        approved = [e["question"]["id"] for e in got if e["type"] == "question"]
        c.check(approved == ids[:10], f"the attendee got each approval once, in order: {approved}")
        bob_ws.close()

        # A client that does not read: closed with 4008 once its queue (16) is full.
        slow = connect(port, MODERATOR, rcvbuf=4096)
        slow_snap = slow.recv()
        big = "x" * 290
        done = threading.Event()

        def edits():
            for i in range(1500):
                if done.is_set():
                    return
                moderator.ok("POST", f"/api/qa/questions/{ids[i % 60]}/edit", {"text": f"{big} {i}"})

        editor = threading.Thread(target=edits)
        editor.start()
        time.sleep(3)
        received, code = [], None
        try:
            while True:
                received.append(slow.recv(timeout=10)["seq"])
        except WebSocketClosed as e:
            code, reason = e.code, e.reason
        except TimeoutError:
            pass
        done.set()
        editor.join()
        c.check(code == 4008, f"the slow client is closed with 4008 (got {code})")
        if code == 4008:
            c.check("since" in reason, f"the close reason says how to resume: {reason!r}")
        last = received[-1] if received else slow_snap["seq"]
        ws = connect(port, MODERATOR, since=last, epoch=slow_snap["epoch"])
        first = ws.recv()
        rest = collect_until_quiet(ws)
        latest = moderator.ok("GET", "/api/qa/rooms")["rooms"][0]["seq"]
        all_seqs = received + [e["seq"] for e in rest]
        print(f"slow client: {len(received)} events before the close ({code}), {len(rest)} after resuming", flush=True)
        c.check(first["type"] == "resumed" and all_seqs == list(range(slow_snap["seq"] + 1, latest + 1)),
                f"after 4008 the client resumes with nothing lost or doubled ({first['type']}, "
                f"{len(received)} before the close, {len(rest)} after, latest {latest})")
        ws.close()
        c.check(relay.proc.poll() is None, "the relay is still running")
    c.finish()


if __name__ == "__main__":
    main()
