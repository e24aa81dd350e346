"""Bad Q&A input gets a clear 4xx with a JSON body and never hurts the server:
malformed JSON, a 1 MB body, invalid UTF-8, control characters, a 10 kB question,
wrong field types, unknown ids and routes, wrong methods, impossible transitions,
the per-attendee rate limit; afterwards the relay still answers."""
import socket

from qa_harness import MODERATOR, QaClient, new_attendee, start_relay
from relay_harness import Checks, parse_args


def main():
    args = parse_args()
    c = Checks()
    with start_relay(args, extra=["qa.questions_per_minute=6", "qa.question_burst=3"]) as relay:
        port = relay.port
        ann, _ = new_attendee(port, "Ann")
        moderator = QaClient(port, MODERATOR)
        ask = "/api/qa/rooms/current/questions"

        def expect(label, status, error, method="POST", path=ask, body=None, raw=None, client=ann):
            got, value, headers = client.call(method, path, body=body, raw=raw)
            ok = got == status and isinstance(value, dict) and value.get("error") == error and value.get("message")
            c.check(ok, f"{label}: {status} {error} (got {got} {value!r:.300})")
            c.check(headers.get("content-type", "").startswith("application/json"), f"{label}: a JSON body")
            return value

        expect("malformed JSON", 400, "bad_json", raw=b'{"text": ')
        expect("JSON that is not an object", 400, "bad_json", raw=b'["text"]')
        expect("invalid UTF-8 inside the JSON", 400, "bad_json", raw=b'{"text": "caf\xc3\x28"}')
        expect("a lone surrogate escape", 400, "bad_json", raw=b'{"text": "\\ud800"}')
        expect("a control character escape", 422, "invalid_text", body={"text": "bell \u0007"})
        expect("a 10 kB question", 422, "too_long", body={"text": "x" * 10_000})
        value = expect("301 characters", 422, "too_long", body={"text": "ä" * 301})
        c.check("301 characters, at most 300" in value["message"], f"the message says the numbers: {value['message']}")
        c.check(ann.call("POST", ask, {"text": "ä" * 300})[0] == 201, "300 two-byte characters are fine (code points)")
        expect("an empty question", 422, "empty", body={"text": " \n "})
        expect("no text", 422, "no_text", body={"name": "x"})
        expect("text of the wrong type", 422, "bad_field", body={"text": 42})
        expect("a 10 kB name", 422, "too_long", method="POST", path="/api/qa/attendees", body={"name": "n" * 10_000},
               client=QaClient(port))

        got, value, _ = ann.call("POST", ask, raw=b'{"text":"' + b"a" * 1_000_000 + b'"}')
        c.check(got == 413 and isinstance(value, dict) and value.get("error") == "too_large",
                f"a 1 MB body: 413 with a JSON body (got {got} {str(value)[:200]})")

        # Raw socket: a body of a size far beyond the limit, announced and not sent.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /api/qa/rooms/current/questions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
            head = s.recv(4096)
            c.check(head.startswith(b"HTTP/1.1 413"), f"an announced 1 GB body is refused at once: {head[:60]!r}")

        expect("an unknown question", 404, "no_question", path="/api/qa/questions/424242/vote")
        expect("a question id that is not a number", 404, "not_found", path="/api/qa/questions/abc/approve",
               client=moderator)
        expect("an unknown room", 404, "no_room", path="/api/qa/rooms/999/questions", body={"text": "hello"})
        expect("an unknown route", 404, "not_found", method="GET", path="/api/qa/nothing-here")
        expect("an unknown action", 404, "not_found", path="/api/qa/questions/1/explode", client=moderator)
        expect("a wrong method", 405, "method_not_allowed", method="PUT", path=ask, body={"text": "x"})
        expect("a plain GET on the WebSocket endpoint", 426, "upgrade_required", method="GET", path="/api/qa/ws")
        first = ann.ok("GET", ask)["items"][0]["id"]
        expect("starring a pending question", 409, "bad_transition", path=f"/api/qa/questions/{first}/star",
               client=moderator)
        expect("voting on a pending question", 409, "not_votable", path=f"/api/qa/questions/{first}/vote")
        expect("a negative timeout", 422, "bad_seconds", path="/api/qa/attendees/1/timeout", body={"seconds": -5},
               client=moderator)
        expect("a bad slow mode", 422, "bad_slow_mode", method="PATCH", path="/api/qa/rooms/current",
               body={"slow_mode_s": 99999}, client=moderator)
        expect("a room title of the wrong type", 422, "bad_field", method="PATCH", path="/api/qa/rooms/current",
               body={"title": ["x"]}, client=moderator)

        # The burst is 3 and one question was accepted above: two more, then 429.
        codes = [ann.call("POST", ask, {"text": f"burst {i}"})[0] for i in range(2)]
        got, value, headers = ann.call("POST", ask, {"text": "one too many"})
        c.check(codes == [201, 201] and got == 429 and value["error"] == "rate_limited" and
                int(headers.get("retry-after", "0")) >= 1, f"rate limit: {codes} then 429 with Retry-After ({got} {value})")
        c.check(moderator.call("POST", ask, {"text": "moderators are exempt"})[0] == 201, "moderators are not limited")

        c.check(relay.proc.poll() is None, "the relay is still running")
        c.check(relay.request("/api/health")[0] in (200, 503), "the relay still answers /api/health")
        items = moderator.ok("GET", ask)["items"]
        c.check(len(items) == 4, f"exactly the four good questions exist: {[i['text'][:20] for i in items]}")
        c.check(relay.stop() == 0, "the relay stops cleanly")
    c.finish()


if __name__ == "__main__":
    main()
