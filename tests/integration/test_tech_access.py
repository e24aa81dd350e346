#!/usr/bin/env python3
"""The technician's surfaces are closed by default (issue 16 item 4).

A relay without technician tokens refuses /metrics, /api/incidents,
/api/tech/stream and /api/tech/thumbnail.jpg with a 401 whose JSON says how to
configure access, and answers /api/health with the status and the reasons'
codes only; the /tech page itself loads (it asks for a token). On health.listen
(the operator's private port) the same routes answer without a token, with
/api/health in full, and nothing else is served there."""
import http.client
import json

from relay_harness import LIGHT, Checks, Relay, free_port, parse_args

TECH_ROUTES = ["/metrics", "/api/incidents", "/api/tech/thumbnail.jpg", "/api/tech/stream"]


def main():
    args = parse_args()
    c = Checks()
    operator_port = free_port()
    overrides = LIGHT + ["qa.technician_tokens=[]", f"health.listen=127.0.0.1:{operator_port}"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        relay.wait_for(lambda: relay.request("/api/health")[0] == 200, 20, "/api/health")

        for path in TECH_ROUTES:
            status, headers, body = relay.request(path, technician=False)
            try:
                error = json.loads(body)
            except ValueError:
                error = {}
            c.check(status == 401 and headers.get("www-authenticate") == "Bearer"
                    and error.get("error") == "technician_access_not_configured"
                    and "qa.technician_tokens" in error.get("message", "")
                    and "health.listen" in error.get("message", ""),
                    f"{path} without technician tokens: 401 saying how to configure access ({status} {body[:160]!r})")
        status, _, body = relay.request("/api/health", technician=False)
        public = json.loads(body)
        c.check(status == 200 and set(public) == {"status", "codes"} and isinstance(public["codes"], list),
                f"public /api/health: the status and the reasons' codes only ({public})")
        status, headers, body = relay.request("/tech", technician=False)
        c.check(status == 200 and b'id="signin"' in body, f"/tech itself loads, with its sign-in form ({status})")

        # The operator's port: no token needed, and only the technician's routes.
        def operator(path, method="GET"):
            return relay.request(path, method=method, port=operator_port, technician=False)
        status, headers, body = operator("/metrics")
        c.check(status == 200 and b"seminar_relay_uptime_seconds" in body,
                f"health.listen: /metrics without a token ({status})")
        status, _, body = operator("/api/incidents")
        c.check(status == 200 and "incidents" in json.loads(body), f"health.listen: /api/incidents ({status})")
        status, _, body = operator("/api/health")
        full = json.loads(body)
        c.check(status == 200 and "ingest" in full and "reasons" in full and full["codes"] == public["codes"],
                f"health.listen: /api/health in full ({sorted(full)})")
        status, headers, _ = operator("/api/tech/stream", method="HEAD")
        c.check(status == 200 and headers.get("content-type", "").startswith("text/event-stream"),
                f"health.listen: the dashboard's stream ({status})")
        conn = http.client.HTTPConnection("127.0.0.1", operator_port, timeout=10)
        conn.request("GET", "/api/tech/stream")
        stream = conn.getresponse()
        first = stream.fp.readline() if stream.status == 200 else b""
        while first and not first.startswith(b"data: "):
            first = stream.fp.readline()
        c.check(first.startswith(b"data: {"), f"health.listen: the stream sends events ({stream.status} {first[:60]!r})")
        conn.close()
        for path in ["/", "/tech", "/live/master.m3u8", "/api/qa/rooms", "/static/style.css"]:
            status, _, _ = operator(path)
            c.check(status == 404, f"health.listen serves nothing else: {path} is 404 ({status})")
        c.check(f"127.0.0.1:{operator_port}" in relay.log_text(), "the operator's port is logged at start")
    c.finish()


if __name__ == "__main__":
    main()
