"""A Q&A change the API answered 2xx survives kill -9: attendees submit questions
in parallel, the relay is killed with SIGKILL in the middle of it, restarted on the
same data folder, and every question that got a 201 is there with its text, as are
votes, bans, rooms and the event sequence (which goes on, never reused). A second
relay on the same data folder is refused."""
import signal
import threading
import time

from qa_harness import MODERATOR, QaClient, connect, new_attendee, qa_overrides, start_relay
from relay_harness import Checks, Relay, parse_args

WORKERS = 4


def main():
    args = parse_args()
    c = Checks()
    extra = ["qa.questions_per_minute=10000", "qa.question_burst=10000", "qa.max_questions_per_room=100000"]
    relay = start_relay(args, extra=extra)
    data_dir = relay.data_dir
    port = relay.port
    moderator = QaClient(port, MODERATOR)
    attendees = [new_attendee(port, f"A{i}")[0] for i in range(WORKERS)]

    # State from before the burst: a vote, a ban, a second room.
    q0 = attendees[0].ok("POST", "/api/qa/rooms/current/questions", {"text": "voted before the crash"})
    moderator.ok("POST", f"/api/qa/questions/{q0['id']}/approve")
    attendees[1].ok("POST", f"/api/qa/questions/{q0['id']}/vote")
    banned, banned_info = new_attendee(port, "Troll")
    moderator.ok("POST", f"/api/qa/attendees/{banned_info['id']}/ban")
    room = moderator.ok("POST", "/api/qa/rooms", {"title": "Afternoon"})

    confirmed = {}  # id -> text, for every 201
    errors = []
    lock = threading.Lock()

    def submit(worker):
        client = attendees[worker]
        i = 0
        while True:
            text = f"worker {worker} question {i} äöü"
            try:
                status, value, _ = client.call("POST", "/api/qa/rooms/current/questions", {"text": text}, timeout=5)
            except OSError:
                return  # the relay is gone
            if status == 201:
                with lock:
                    confirmed[value["id"]] = text
            else:
                errors.append((status, value))
                return
            i += 1

    threads = [threading.Thread(target=submit, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    relay.proc.send_signal(signal.SIGKILL)
    relay.proc.wait()
    for t in threads:
        t.join()
    print(f"{len(confirmed)} questions confirmed before SIGKILL", flush=True)
    c.check(not errors, f"no errors before the kill: {errors[:3]}")
    c.check(len(confirmed) >= 20, f"a real burst was under way ({len(confirmed)} confirmed)")

    with start_relay(args, data_dir=data_dir, extra=extra) as relay:
        moderator = QaClient(relay.port, MODERATOR)
        items = moderator.ok("GET", "/api/qa/rooms/1/questions")["items"]
        stored = {item["id"]: item["text"] for item in items}
        missing = [i for i in confirmed if stored.get(i) != confirmed[i]]
        c.check(not missing, f"every 2xx question is there after kill -9 ({len(confirmed)} confirmed, "
                f"{len(stored)} stored, missing {missing[:10]})")
        c.check(len(stored) - 1 - len(confirmed) <= WORKERS,
                "at most the requests in flight at the kill are stored without a 201")
        first = [item for item in items if item["id"] == q0["id"]]
        c.check(first and first[0]["votes"] == 1 and first[0]["state"] == "approved", f"the vote survived: {first}")
        banned.port = relay.port
        status, value, _ = banned.call("POST", "/api/qa/rooms/1/questions", {"text": "still here"})
        c.check(status == 403 and value["error"] == "banned", f"the ban survived: {status} {value}")
        rooms = moderator.ok("GET", "/api/qa/rooms")
        c.check([r["title"] for r in rooms["rooms"]] == ["Q&A", "Afternoon"] and rooms["rooms"][1]["id"] == room["id"],
                f"the rooms survived: {rooms}")
        seq_before = rooms["rooms"][0]["seq"]
        c.check(seq_before >= len(confirmed) + 2, f"the room's event sequence survived ({seq_before})")
        ws = connect(relay.port, MODERATOR, room=1)
        snap = ws.recv()
        c.check(snap["type"] == "snapshot" and snap["seq"] == seq_before, "a snapshot at the restored seq")
        attendees[0].port = relay.port
        attendees[0].ok("POST", "/api/qa/rooms/1/questions", {"text": "after the restart"})
        event = ws.recv()
        c.check(event["seq"] == seq_before + 1, f"the sequence goes on, not reused: {event['seq']} after {seq_before}")
        ws.close()

        # A second relay on the same folder would hand out the same ids: refused at start.
        second = Relay(args.binary, args.source_dir, qa_overrides(data_dir))
        try:
            code = second.proc.wait(timeout=20)
        except Exception:
            second.stop()
            code = None
        c.check(code not in (None, 0) and "in use by another running relay" in second.log_text(),
                f"a second relay on the same qa.data_dir stops with a clear error ({code}): {second.log_text()[-300:]}")
    c.finish()


if __name__ == "__main__":
    main()
