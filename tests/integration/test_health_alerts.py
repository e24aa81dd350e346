#!/usr/bin/env python3
"""Alerts on the real binary, with a real SRT sender: stopping the input turns
/api/health to down and delivers a signed "firing" webhook to a receiver on
loopback (whose first answer is a 500, so a retry is needed); restoring the
input delivers "resolved" for the same incident. The incident log keeps both
and survives a restart of the relay."""
import hashlib
import hmac
import http.server
import json
import os
import tempfile
import threading
import time

from ingest_peers import SLATE, Sender, sender_cmd, udp_port
from prom_format import parse, value
from relay_harness import LIGHT, Checks, Relay, free_port, parse_args

SECRET = "webhook-secret-for-the-test"


class Receiver:
    """An HTTP server on loopback that records every POST; the first gets a 500."""

    def __init__(self):
        self.received = []   # (body bytes, headers dict, status answered)
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = 500 if not receiver.received else 200
                    receiver.received.append((body, {k.lower(): v for k, v in self.headers.items()}, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self):
        """(event json, headers) of the posts answered 200."""
        with self.lock:
            return [(json.loads(b), h) for b, h, s in self.received if s == 200]

    def stop(self):
        self.server.shutdown()


def signature_ok(body, headers):
    """The receiver's check of docs/health.md: a fresh timestamp, and the HMAC of "<timestamp>.<body>"."""
    timestamp = headers.get("x-relay-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    expected = "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("x-relay-signature", ""), expected)


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="health-alerts-")
    incident_log = os.path.join(tmp, "incidents.jsonl")
    receiver = Receiver()
    port = udp_port()
    url = f"srt://127.0.0.1:{port}?pkt_size=1316"
    overrides = LIGHT + SLATE + [
        f"ingest.source=srt://127.0.0.1:{port}?mode=listener",
        f"health.incident_log={incident_log}",
        "health.input_lost_hold_s=1",
        # Only the input is under test; a colour field may be tiny and a loaded CI machine slow.
        "health.input_bitrate_min_kbps=0", "health.input_framerate_min=0", "health.realtime_factor_min=0",
        f"health.webhook_url=http://127.0.0.1:{receiver.port}/hook",
        "health.allow_insecure_webhooks=true",
        f"health.webhook_secret={SECRET}",
        "health.webhook_retries=3",
        "health.webhook_timeout_s=5",
    ]

    def events(rule="input_lost"):
        return [e for e, _ in receiver.delivered() if e["rule"] == rule]

    with Relay(args.binary, args.source_dir, overrides) as relay:
        # No sender yet: the input is lost from the start, which is an incident too.
        first = relay.wait_for(lambda: events() and events()[0], 40, "the webhook for the missing input")
        c.check(first["event"] == "firing", f"waiting for the input fires input_lost ({first})")
        with receiver.lock:
            answered = [s for _, _, s in receiver.received]
        c.check(answered[:2] == [500, 200] and receiver.received[0][0] == receiver.received[1][0],
                f"after a 500 the same webhook is sent again ({answered})")

        sender = Sender(sender_cmd(url, color="white", size="640x360"))
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["state"] == "live", 30,
                       "the SRT input to go live")
        relay.wait_for(lambda: len(events()) >= 2, 20, "the first incident to resolve")
        c.check(events()[1]["event"] == "resolved" and events()[1]["incident"] == first["incident"],
                f"the input going live resolves it ({events()[1]})")
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["status"] == "ok", 20, "health ok while live")
        # A compressed input has a measured rate (a raw test: source has none).
        rate = relay.wait_for(lambda: value(parse(relay.get("/metrics").decode()),
                                            "seminar_relay_input_rate_bytes_per_second", role="primary"), 10,
                              "the input rate on /metrics")
        c.check(rate > 0, f"the SRT input's rate is on /metrics ({rate} B/s)")

        # The outage.
        sender.stop()
        relay.wait_for(lambda: len(events()) >= 3, 30, "the firing webhook after the input stopped")
        fired = events()[2]
        c.check(fired["event"] == "firing" and fired["rule"] == "input_lost" and fired["resolved_at"] is None,
                f"stopping the input fires input_lost ({fired})")
        c.check(fired["incident"] != first["incident"], "a new incident")
        c.check(fired["source"].startswith("srt://"), f"the webhook names the source ({fired['source']})")
        for body, headers, status in receiver.received:
            if status == 200:
                c.check(signature_ok(body, headers), f"X-Relay-Signature is the HMAC of the timestamp and body ({headers.get('x-relay-signature')})")
                c.check(headers.get("content-type", "").startswith("application/json"), "webhook body is JSON")
        h = json.loads(relay.get("/api/health"))
        c.check(h["status"] == "down", f"health is down during the outage ({h['status']})")
        c.check(any(r.startswith("alert input_lost since") for r in h["reasons"]),
                f"the alert is a reason ({h['reasons']})")
        c.check([a["rule"] for a in h["alerts"]] == ["input_lost"], f"the alert is listed ({h['alerts']})")
        incidents = json.loads(relay.get("/api/incidents"))
        c.check(incidents["active"] and incidents["active"][0]["rule"] == "input_lost", f"active alert listed ({incidents['active']})")
        c.check(incidents["incidents"][0]["id"] == fired["incident"] and incidents["incidents"][0]["ended_at"] is None,
                f"the open incident is the newest ({incidents['incidents'][:1]})")

        # The input returns.
        sender = Sender(sender_cmd(url, color="white", size="640x360"))
        relay.wait_for(lambda: len(events()) >= 4, 40, "the resolved webhook after the input returned")
        resolved = events()[3]
        c.check(resolved["event"] == "resolved" and resolved["incident"] == fired["incident"],
                f"restoring the input resolves the same incident ({resolved})")
        c.check(resolved["resolved_at"] > resolved["fired_at"], "resolved after it fired")
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["status"] == "ok", 20, "health ok again")
        sender.stop()
        c.check(relay.stop() == 0, "the relay stops cleanly")

    # A restart keeps the log; what was still firing when it stopped is closed as interrupted.
    with Relay(args.binary, args.source_dir, overrides) as relay:
        incidents = relay.wait_for(lambda: json.loads(relay.get("/api/incidents")), 20, "/api/incidents")
        by_id = {i["id"]: i for i in incidents["incidents"]}
        old = by_id.get(fired["incident"])
        c.check(old is not None and old["ending"] == "resolved" and old["ended_at"],
                f"the outage is still in the log after a restart ({old})")
        c.check(by_id.get(first["incident"], {}).get("ending") == "resolved", "so is the first incident")
    with open(incident_log) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    c.check(any(line["type"] == "fired" and line["id"] == fired["incident"] for line in lines)
            and any(line["type"] == "resolved" and line["id"] == fired["incident"] for line in lines),
            "the incident log file has the outage firing and resolving")
    receiver.stop()
    c.finish()


if __name__ == "__main__":
    main()
