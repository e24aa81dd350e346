"""Every moderator action refuses callers without a token (401, with
WWW-Authenticate), with an unknown token (401) and with the wrong role (403, as an
attendee and as the speaker), each with a JSON error body; and nothing changed."""
from qa_harness import (MODERATOR, SPEAKER, HandshakeRefused, QaClient, WebSocketClosed, connect, new_attendee,
                        start_relay)
from relay_harness import Checks, parse_args


def main():
    args = parse_args()
    c = Checks()
    with start_relay(args) as relay:
        port = relay.port
        moderator = QaClient(port, MODERATOR)
        ann, ann_info = new_attendee(port, "Ann")
        q = ann.ok("POST", "/api/qa/rooms/current/questions", {"text": "Pending question"})
        room = moderator.ok("GET", "/api/qa/rooms")["current_room"]

        moderator_actions = [("POST", f"/api/qa/questions/{q['id']}/{action}", body) for action, body in [
            ("approve", None), ("reject", None), ("edit", {"text": "changed"}), ("star", None), ("stage", None),
            ("answer", {"text": "an answer"}), ("hide", None), ("reopen", None)]] + [
            ("POST", "/api/qa/rooms", {"title": "Rogue room"}),
            ("PATCH", f"/api/qa/rooms/{room}", {"title": "Renamed"}),
            ("POST", f"/api/qa/rooms/{room}", {"open": False}),
            ("POST", f"/api/qa/rooms/{room}/current", None),
            ("POST", f"/api/qa/attendees/{ann_info['id']}/timeout", {"seconds": 60}),
            ("POST", f"/api/qa/attendees/{ann_info['id']}/ban", None),
            ("DELETE", f"/api/qa/attendees/{ann_info['id']}/ban", None),
            ("GET", f"/api/qa/rooms/{room}/export.csv", None),
        ]
        callers = [("no token", QaClient(port), 401), ("unknown token", QaClient(port, "f" * 64), 401),
                   ("a moderator token with one more character", QaClient(port, MODERATOR + "x"), 401),
                   ("attendee", ann, 403), ("speaker", QaClient(port, SPEAKER), 403)]
        for label, client, expected in callers:
            for method, path, body in moderator_actions:
                status, value, headers = client.call(method, path, body)
                ok = status == expected and isinstance(value, dict) and value.get("error") and value.get("message")
                c.check(ok, f"{method} {path} as {label}: {expected} with a JSON error (got {status} {value!r})")
                if expected == 401:
                    c.check(headers.get("www-authenticate", "").startswith("Bearer"),
                            f"{method} {path} as {label}: WWW-Authenticate: Bearer")

        # Nothing of the above took effect.
        items = moderator.ok("GET", f"/api/qa/rooms/{room}/questions")["items"]
        c.check(len(items) == 1 and items[0]["state"] == "pending" and items[0]["text"] == "Pending question",
                f"the question is untouched: {items}")
        rooms = moderator.ok("GET", "/api/qa/rooms")
        c.check(len(rooms["rooms"]) == 1 and rooms["rooms"][0]["title"] == "Q&A" and rooms["rooms"][0]["open"],
                f"the room is untouched: {rooms}")
        c.check(ann.call("POST", "/api/qa/rooms/current/questions", {"text": "not banned"})[0] == 201,
                "the attendee is neither timed out nor banned")

        # Attendee-only and token-only operations.
        for method, path in [("POST", f"/api/qa/questions/{q['id']}/vote"), ("GET", "/api/qa/me"),
                             ("POST", f"/api/qa/rooms/{room}/questions")]:
            status, value, _ = QaClient(port).call(method, path, {"text": "x"})
            c.check(status == 401 and value.get("error"), f"{method} {path} without a token: 401 ({status})")
        status, value, _ = moderator.call("POST", f"/api/qa/questions/{q['id']}/vote")
        c.check(status == 403, f"moderators do not vote: {status} {value}")
        c.check(moderator.ok("GET", "/api/qa/me")["role"] == "moderator", "/api/qa/me names the role")
        c.check(ann.ok("GET", "/api/qa/me")["role"] == "attendee", "/api/qa/me for an attendee")

        # Watching needs no identity: without a token the public view, nothing pending.
        status, value, _ = QaClient(port).call("GET", f"/api/qa/rooms/{room}/questions")
        c.check(status == 200 and all(i["state"] != "pending" for i in value["items"]),
                f"the questions without a token: the public view ({status} {value})")
        viewer = connect(port, "")
        snapshot = viewer.recv(timeout=5)
        c.check(snapshot["type"] == "snapshot" and snapshot["role"] == "viewer",
                f"a WebSocket without a token is a viewer's: {snapshot}")
        viewer.close()
        for label, token in [("a bad token", "nope")]:
            ws = connect(port, token)
            try:
                got = ws.recv(timeout=5)
                c.check(False, f"WebSocket with {label} is refused, not sent {got}")
            except WebSocketClosed as e:
                c.check(e.code == 4003, f"WebSocket with {label}: closed with 4003 ({e.code} {e.reason})")
            ws.close()
        try:
            connect(port, ann.token, room="999")
            c.check(False, "WebSocket to an unknown room is refused")
        except HandshakeRefused as e:
            c.check(e.status == 404, f"WebSocket to an unknown room: 404 ({e.status})")
        c.check(MODERATOR not in relay.log_text(), "the moderator token is not logged")
    c.finish()


if __name__ == "__main__":
    main()
