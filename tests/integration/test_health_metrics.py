#!/usr/bin/env python3
"""/metrics on the real binary: the exposition passes a strict format check (and
promtool where it is installed), counters rise while the stream runs and players
fetch it, the raw test source has frame counts but no keyframe interval, two
simulated players' QoE reports show up as reporting sessions, a malformed or
oversized report gets a 4xx and changes nothing, and /api/incidents needs a
technician token (the harness's relay has one)."""
import http.client
import json
import time

from prom_format import FormatError, parse, promtool_problems, value
from relay_harness import LIGHT, TECH_TOKEN, Checks, Relay, media_segments, parse_args


def post(relay, path, body, headers=None, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def scrape(relay, c, what):
    text = relay.get("/metrics").decode("utf-8")
    try:
        samples = parse(text)
        c.check(True, f"{what}: the exposition parses strictly")
    except FormatError as e:
        c.check(False, f"{what}: the exposition breaks the format: {e}")
        samples = {}
    problems = promtool_problems(text)
    if problems is not None:
        c.check(problems == "", f"{what}: promtool check metrics passes ({problems})")
    return samples, text


def main():
    args = parse_args()
    c = Checks()
    overrides = LIGHT + ["health.viewer_stalls_per_minute_max=3",
                         "health.viewer_stalls_hold_s=0"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        relay.wait_for_segments("360p", 3)
        status, headers, _ = relay.request("/metrics")
        c.check(status == 200, f"/metrics answers 200 ({status})")
        c.check(headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
                f"/metrics is the text format 0.0.4 ({headers.get('content-type')})")
        first, text = scrape(relay, c, "first scrape")
        c.check(value(first, "seminar_relay_ingest_state", state="live") == 1, "ingest state live is 1")
        c.check(value(first, "seminar_relay_ingest_state", state="slate") == 0, "ingest state slate is 0")
        c.check(value(first, "seminar_relay_input_width_pixels", role="primary") == 640, "the input width is 640")
        c.check((value(first, "seminar_relay_input_frames_per_second", role="primary") or 0) > 0,
                "the input frame rate is measured")
        for r in ("360p", "240p", "180p"):
            c.check((value(first, "seminar_relay_rendition_segments_total", rendition=r) or 0) >= 3,
                    f"{r}: segments counted")
            c.check((value(first, "seminar_relay_rendition_output_rate_bytes_per_second", rendition=r) or 0) > 0,
                    f"{r}: output rate measured")
            c.check(value(first, "seminar_relay_rendition_target_segment_duration_seconds", rendition=r) == 2,
                    f"{r}: target segment duration 2 s")
            last = value(first, "seminar_relay_rendition_last_segment_duration_seconds", rendition=r)
            c.check(last is not None and 1.5 <= last <= 2.5, f"{r}: newest segment lasts about 2 s ({last})")
            part = value(first, "seminar_relay_rendition_last_segment_part_max_seconds", rendition=r)
            c.check(part is not None and 0 < part <= 0.5 + 0.05, f"{r}: parts within the 0.5 s target ({part})")
            age = value(first, "seminar_relay_rendition_last_segment_age_seconds", rendition=r)
            c.check(age is not None and age >= 0, f"{r}: newest segment age reported ({age})")
        for name in ("seminar_relay_process_cpu_seconds_total", "seminar_relay_process_resident_memory_bytes",
                     "seminar_relay_process_threads", "seminar_relay_uptime_seconds"):
            c.check((value(first, name) or 0) > 0, f"{name} is there and positive")
        c.check(value(first, "seminar_relay_alert_firing", rule="input_lost") == 0, "no input_lost alert while live")
        for name in ("seminar_relay_input_frames_dropped_total", "seminar_relay_input_frames_duplicated_total",
                     "seminar_relay_input_frames_late_total"):
            c.check(value(first, name, role="primary") is not None, f"{name} is there for the input")
        c.check(value(first, "seminar_relay_input_keyframe_interval_seconds", role="primary") is None,
                "the raw test source has no keyframe interval")
        c.check(value(first, "seminar_relay_alert_firing", rule="keyframe_interval") == 0,
                "so the keyframe interval alert stays quiet")
        c.check(value(first, "seminar_relay_viewers", rendition="360p") == 0, "no viewer sent a session id yet")
        rms = value(first, "seminar_relay_audio_rms_dbfs")
        c.check(rms is not None and -40 < rms <= 0, f"the test tone's level is measured ({rms} dBFS)")

        # Act like a player, then scrape again: the counters must have moved.
        segs = media_segments(relay.get("/live/360p/index.m3u8").decode())
        for msn, *_ in segs[-2:]:
            relay.segment("360p", msn)
        relay.request(relay.segment_path("360p", 999999))
        relay.wait_for_segments("360p", len(segs) + 1 if len(segs) < 6 else 6)
        time.sleep(2.5)
        second, _ = scrape(relay, c, "second scrape")
        seg_ok = lambda s: value(s, "seminar_relay_http_requests_total", route="segment", status="200") or 0
        c.check(seg_ok(second) >= seg_ok(first) + 2, f"segment requests counted ({seg_ok(first)} -> {seg_ok(second)})")
        c.check((value(second, "seminar_relay_http_requests_total", route="segment", status="404") or 0) >= 1,
                "a missing segment is counted as 404")
        c.check((value(second, "seminar_relay_http_requests_total", route="metrics", status="200") or 0) >= 2,
                "the scrapes themselves are counted")
        sent = lambda s: value(s, "seminar_relay_http_sent_bytes_total", route="segment", status="200") or 0
        c.check(sent(second) > sent(first), "bytes out rise")
        segments = lambda s: value(s, "seminar_relay_rendition_segments_total", rendition="360p") or 0
        c.check(segments(second) > segments(first), f"segments rise ({segments(first)} -> {segments(second)})")
        c.check(value(second, "seminar_relay_process_cpu_seconds_total") >=
                value(first, "seminar_relay_process_cpu_seconds_total"), "CPU seconds never go back")
        c.check((value(second, "seminar_relay_http_connections_open") or 0) >= 1, "open connections counted")

        status, headers, body = relay.request("/metrics", method="HEAD")
        c.check(status == 200 and body == b"" and int(headers.get("content-length", "0")) > 0,
                f"HEAD /metrics: headers only ({status}, {len(body)} bytes)")
        status, _, _ = post(relay, "/metrics", "{}")
        c.check(status == 405, f"POST /metrics is 405 ({status})")

        # Two players report.
        reports = [
            {"session": "player-one-0001", "latency_s": 2.0, "buffer_s": 1.5, "rendition": "360p", "stalls": 1,
             "errors": 0},
            {"session": "player-two-0002", "latency_s": 4.0, "buffer_s": 2.5, "rendition": "240p", "stalls": 0,
             "errors": 1},
        ]
        for r in reports:
            status, _, body = post(relay, "/api/qoe", json.dumps(r))
            c.check(status == 204, f"QoE report of {r['session']} accepted ({status} {body[:100]!r})")
        # A player reports every 10 s; the same session again at once is refused.
        status, headers, body = post(relay, "/api/qoe", json.dumps(reports[0]))
        c.check(status == 429 and "error" in json.loads(body or b"{}") and headers.get("retry-after"),
                f"the same session again at once: 429 ({status} {body[:100]!r})")
        qoe, _ = scrape(relay, c, "after two players reported")
        c.check(value(qoe, "seminar_relay_qoe_sessions") == 2,
                f"two reporting players ({value(qoe, 'seminar_relay_qoe_sessions')})")
        c.check(value(qoe, "seminar_relay_qoe_sessions_by_rendition", rendition="360p") == 1, "one reporting on 360p")
        c.check(value(qoe, "seminar_relay_qoe_sessions_by_rendition", rendition="240p") == 1, "one reporting on 240p")
        c.check(value(qoe, "seminar_relay_viewer_latency_seconds", quantile="0.5") == 2.0, "median latency 2 s")
        c.check(value(qoe, "seminar_relay_viewer_latency_seconds", quantile="0.99") == 4.0, "p99 latency 4 s")
        c.check(value(qoe, "seminar_relay_viewer_latency_seconds_count") == 2, "two latencies")
        c.check(value(qoe, "seminar_relay_viewer_latency_seconds_sum") == 6.0, "latency sum 6 s")
        c.check(value(qoe, "seminar_relay_viewer_stalls_total") == 1, "one stall")
        c.check(value(qoe, "seminar_relay_viewer_errors_total") == 1, "one error")
        c.check(value(qoe, "seminar_relay_qoe_reports_total") == 2, "two reports")

        # Bad reports: each refused with a JSON 4xx, none counted as a viewer or report.
        bad = [
            ("not JSON", "{\"session\":", 400),
            ("not an object", "[1,2]", 400),
            ("no session", "{\"latency_s\":1}", 400),
            ("negative latency", json.dumps({"session": "player-bad-0003", "latency_s": -5}), 400),
            ("unknown key", json.dumps({"session": "player-bad-0003", "cookie": "x"}), 400),
            ("oversized", json.dumps({"session": "player-big-0004", "rendition": "360p", "pad": "x" * 3000}), 413),
            ("beyond the body limit", "x" * 70000, 413),
        ]
        for what, body, expected in bad:
            try:
                status, headers, answer = post(relay, "/api/qoe", body)
            except (ConnectionError, http.client.HTTPException) as e:
                status, headers, answer = None, {}, repr(e).encode()
            try:
                ok = status == expected and "error" in json.loads(answer)
            except ValueError:
                ok = False
            c.check(ok, f"{what}: {expected} with a JSON error ({status} {answer[:120]!r})")
        status, _, _ = relay.request("/api/qoe")
        c.check(status == 405, f"GET /api/qoe is 405 ({status})")
        after, _ = scrape(relay, c, "after the bad reports")
        c.check(value(after, "seminar_relay_qoe_sessions") == 2, "still two reporting players")
        c.check(value(after, "seminar_relay_qoe_reports_total") == 2, "still two reports")
        c.check(value(after, "seminar_relay_viewer_latency_seconds", quantile="0.5") == 2.0, "latency unchanged")
        c.check(value(after, "seminar_relay_qoe_rejected_total") >= 7, "the refusals are counted")
        h = json.loads(relay.get("/api/health"))
        c.check(h["status"] == "ok", f"the relay is unaffected ({h['status']} {h['reasons']})")
        c.check(h["alerts"] == [], f"no alert fires on a healthy test stream ({h['alerts']})")

        # Incidents are for technicians once technicians are configured.
        status, headers, _ = relay.request("/api/incidents", technician=False)
        c.check(status == 401 and headers.get("www-authenticate") == "Bearer", f"/api/incidents without a token: 401 ({status})")
        status, _, _ = relay.request("/api/incidents", headers={"Authorization": "Bearer wrong-token-0123456789"})
        c.check(status == 401, f"/api/incidents with a wrong token: 401 ({status})")
        status, _, body = relay.request("/api/incidents", headers={"Authorization": f"Bearer {TECH_TOKEN}"})
        c.check(status == 200 and json.loads(body)["active"] == [], f"/api/incidents with the token: 200 ({status} {body[:200]!r})")
        status, _, _ = relay.request(f"/api/incidents?token={TECH_TOKEN}", technician=False)
        c.check(status == 401, f"/api/incidents with ?token=: 401, tokens go in a header ({status})")
        c.check(TECH_TOKEN not in relay.log_text(), "the token is never logged")

        # One player claiming 50 stalls counts 3 (a session's stalls count at most 3 a minute):
        # 4 stalls by 3 viewers in half a minute, below 3 per viewer-minute.
        status, _, _ = post(relay, "/api/qoe", json.dumps({"session": "player-stalling-5", "latency_s": 9, "stalls": 50}))
        c.check(status == 204, f"the stalling viewer's report is accepted ({status})")
        capped, _ = scrape(relay, c, "after one player claimed 50 stalls")
        c.check(value(capped, "seminar_relay_viewer_stalls_per_minute") < 3,
                f"one session's 50 stalls count 3 ({value(capped, 'seminar_relay_viewer_stalls_per_minute')})")
        # Four more players, each in a network of its own (loopback takes any 127/8 source
        # address), stalling too: 16 stalls by 7 viewers is above 3 per viewer-minute.
        for i in range(4):
            status, _, _ = post(relay, "/api/qoe", json.dumps({"session": f"player-stalling-{i}x", "stalls": 50}),
                                source=f"127.0.0.{11 + i}")
            c.check(status == 204, f"stalling viewer {i} in its own network is accepted ({status})")
        h = relay.wait_for(lambda: (lambda h: h if h["alerts"] else None)(json.loads(relay.get("/api/health"))), 10,
                           "the viewer stall alert")
        c.check([a["rule"] for a in h["alerts"]] == ["viewer_stalls"] and h["status"] == "degraded",
                f"viewers stalling fire viewer_stalls and degrade health ({h['status']} {h['alerts']})")
    c.finish()


if __name__ == "__main__":
    main()
