"""The programme on the real binary: three talks from [[programme.talks]] in the
config; /programme.ics is a well-formed iCalendar (parsed here by hand: lines
of at most 75 octets, unfolded, one VEVENT per talk with UTC times and escaped
text); /api/programme lists the talks with planned and actual times; the
moderator marks start, end and next, and each talk's Q&A room becomes current
in turn, as an attendee's REST calls and WebSocket feed see it; bad marks
(unknown talk, no token, an attendee's token, a talk that ended) get clear JSON
errors; an admin changes a talk and the calendar follows; the relay serves on."""
import os
import tempfile
from datetime import datetime, timezone

from qa_harness import MODERATOR, QaClient, connect, new_attendee, qa_overrides
from relay_harness import Checks, Relay, parse_args

TALKS = '''
[[programme.talks]]
id = "keynote"
title = "Begrüßung; Überblick, Ziele"
speakers = ["Jörg Müller", "Ada Lovelace"]
language = "de"
start = "2027-03-10T09:00:00+01:00"
end = "2027-03-10T10:00:00+01:00"
abstract = """Zwei Zeilen,
und ein langer Satz über Relays, Segmente und Latenz, der weit über fünfundsiebzig Oktette reicht."""

[[programme.talks]]
id = "codecs"
title = "Codecs"
start = "2027-03-10T10:15:00+01:00"
end = "2027-03-10T11:00:00+01:00"

[[programme.talks]]
id = "panel"
title = "Panel"  # 10:00Z: right after "codecs" (09:15Z..10:00Z), the slots touch
speakers = ["Grace Hopper"]
start = "2027-03-10T10:00:00Z"
end = "2027-03-10T11:00:00Z"
'''


def write_config(source_dir, tmp):
    """The shipped config with absolute paths and three talks."""
    with open(os.path.join(source_dir, "config", "relay.toml"), encoding="utf-8") as f:
        text = f.read().replace('"../', f'"{source_dir}/')
    path = os.path.join(tmp, "relay.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + TALKS)
    return path


def parse_ics(raw):
    """[(name, params, value)] of the unfolded content lines; checks the octet limit and CRLF."""
    assert raw.endswith(b"\r\n"), "the calendar ends with CRLF"
    physical = raw[:-2].split(b"\r\n")
    for line in physical:
        assert len(line) <= 75, f"line longer than 75 octets: {line!r}"
        line.decode("utf-8")  # every physical line is whole UTF-8: no character split by folding
    logical = []
    for line in physical:
        if line.startswith(b" "):
            logical[-1] += line[1:]
        else:
            logical.append(line)
    out = []
    for line in logical:
        text = line.decode("utf-8")
        head, value = text.split(":", 1)
        name, *params = head.split(";")
        out.append((name, params, value))
    return out


def unescape(value):
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append("\n" if value[i + 1] in "nN" else value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def events(lines):
    result, current = [], None
    for name, params, value in lines:
        if (name, value) == ("BEGIN", "VEVENT"):
            current = {}
        elif (name, value) == ("END", "VEVENT"):
            result.append(current)
            current = None
        elif current is not None:
            current[name] = (params, value)
    return result


def utc(value):
    return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="programme-")
    config = write_config(os.path.abspath(args.source_dir), tmp)
    overrides = qa_overrides(os.path.join(tmp, "qa"), ['qa.admin_tokens=["admin-token-0123456789abcdef0000"]'])
    with Relay(args.binary, args.source_dir, overrides, config=config) as relay:
        public = QaClient(relay.port)
        moderator = QaClient(relay.port, MODERATOR)
        relay.wait_for(lambda: public.call("GET", "/api/programme")[0] == 200, 30, "the programme API")

        # The programme as the config planned it, in start order.
        programme = public.ok("GET", "/api/programme")
        ids = [t["id"] for t in programme["talks"]]
        c.check(ids == ["keynote", "codecs", "panel"], f"talks in planned order: {ids}")
        keynote = programme["talks"][0]
        c.check(keynote["planned_start"] == "2027-03-10T09:00:00+01:00" and keynote["actual_start"] is None and
                keynote["speakers"] == ["Jörg Müller", "Ada Lovelace"] and keynote["language"] == "de",
                f"a talk's fields: {keynote}")
        c.check(programme["on_stage"] is None and programme["next"] == "keynote", f"nothing on stage yet: {programme}")

        # The calendar.
        status, headers, raw = relay.request("/programme.ics")
        c.check(status == 200 and headers["content-type"] == "text/calendar; charset=utf-8",
                f"/programme.ics: {status} {headers.get('content-type')}")
        lines = parse_ics(raw)
        c.check(lines[0][::2] == ("BEGIN", "VCALENDAR") and lines[-1][::2] == ("END", "VCALENDAR"), "one VCALENDAR")
        props = {name: value for name, _, value in lines}
        c.check(props.get("VERSION") == "2.0" and props.get("PRODID"), "VERSION:2.0 and a PRODID")
        vevents = events(lines)
        c.check(len(vevents) == 3, f"one VEVENT per talk: {len(vevents)}")
        by_uid = {e["UID"][1]: e for e in vevents}
        c.check(len(by_uid) == 3 and all(uid.endswith(".seminar-relay") for uid in by_uid),
                f"unique UIDs: {list(by_uid)}")
        first = next(e for uid, e in by_uid.items() if uid.startswith("keynote@"))
        c.check(utc(first["DTSTART"][1]) == datetime(2027, 3, 10, 8, 0, tzinfo=timezone.utc) and
                utc(first["DTEND"][1]) == datetime(2027, 3, 10, 9, 0, tzinfo=timezone.utc),
                f"DTSTART/DTEND in UTC: {first['DTSTART']} {first['DTEND']}")
        c.check(first["SUMMARY"] == (["LANGUAGE=de"], "Begrüßung\\; Überblick\\, Ziele") and
                unescape(first["SUMMARY"][1]) == "Begrüßung; Überblick, Ziele", f"SUMMARY escaped: {first['SUMMARY']}")
        description = unescape(first["DESCRIPTION"][1])
        c.check(description.startswith("Speakers: Jörg Müller, Ada Lovelace\n\nZwei Zeilen,\nund ein langer") and
                description.endswith("fünfundsiebzig Oktette reicht."), f"DESCRIPTION: {description!r}")
        c.check(all("DTSTAMP" in e for e in vevents), "every VEVENT has a DTSTAMP")
        status, _, raw_again = relay.request("/programme.ics")
        uids_again = {e["UID"][1] for e in events(parse_ics(raw_again))}
        c.check(uids_again == set(by_uid), "UIDs stay the same from one download to the next")

        # Public and briefly cacheable: the pages poll it; a mark's answer is never cached.
        status, _, headers = public.call("GET", "/api/programme")
        c.check(status == 200 and headers.get("cache-control") == "public, max-age=2",
                f"GET /api/programme may be cached for 2 s: {headers.get('cache-control')}")

        # Bad marks: clear errors, nothing changes.
        attendee, _ = new_attendee(relay.port, "Bob")
        status, body, headers = public.call("POST", "/api/programme/keynote/start")
        c.check(status == 401 and body["error"] == "no_token" and "www-authenticate" in headers,
                f"no token: {status} {body}")
        status, body, _ = attendee.call("POST", "/api/programme/keynote/start")
        c.check(status == 403 and body["error"] == "forbidden", f"an attendee's token: {status} {body}")
        status, body, _ = moderator.call("POST", "/api/programme/nope/start")
        c.check(status == 404 and body["error"] == "unknown_talk" and "nope" in body["message"],
                f"unknown talk: {status} {body}")
        status, body, _ = moderator.call("POST", "/api/programme/keynote/dance")
        c.check(status == 404 and body["error"] == "not_found", f"unknown action: {status} {body}")
        status, body, _ = moderator.call("POST", "/api/programme/keynote/end")
        c.check(status == 409 and body["error"] == "not_on_stage", f"ending a talk not on stage: {status} {body}")
        status, body, _ = moderator.call("GET", "/api/programme/keynote/start")
        c.check(status == 405, f"GET on a mark: {status} {body}")
        status, body, _ = moderator.call("POST", "/api/programme")
        c.check(status == 405, f"POST on the programme: {status} {body}")
        c.check(public.ok("GET", "/api/programme")["on_stage"] is None, "refused marks changed nothing")
        c.check(len(public.ok("GET", "/api/qa/rooms")["rooms"]) == 1, "refused marks created no room")

        # The attendee's feed on the current room learns each switch.
        feed = connect(relay.port, attendee.token)

        def wait_current(room_id):
            while True:
                event = feed.recv(timeout=10)
                if event.get("type") == "current_room" and event["current_room"] == room_id:
                    return event

        rooms_seen = []
        for step, (method, path, expect_on_stage) in enumerate([
                ("POST", "/api/programme/keynote/start", "keynote"),
                ("POST", "/api/programme/next", "codecs"),
                ("POST", "/api/programme/next", "panel")]):
            answer = moderator.ok(method, path)
            c.check(answer["on_stage"] == expect_on_stage, f"step {step}: on stage {answer['on_stage']}")
            talk = next(t for t in answer["talks"] if t["id"] == expect_on_stage)
            c.check(talk["actual_start"] is not None and talk["room"], f"step {step}: actual start and room: {talk}")
            wait_current(talk["room"])
            rooms = attendee.ok("GET", "/api/qa/rooms")
            current = next(r for r in rooms["rooms"] if r["id"] == rooms["current_room"])
            c.check(rooms["current_room"] == talk["room"] and current["title"] == talk["title"],
                    f"step {step}: the attendee sees the talk's room current: {rooms}")
            # An attendee's question goes to the current room, the talk's.
            asked = attendee.ok("POST", "/api/qa/rooms/current/questions", {"text": f"question on {talk['id']}"})
            c.check(asked.get("room") == talk["room"], f"step {step}: asked in the talk's room: {asked}")
            rooms_seen.append(talk["room"])
        c.check(len(set(rooms_seen)) == 3, f"one room per talk: {rooms_seen}")
        feed.close()

        programme = public.ok("GET", "/api/programme")
        done = {t["id"]: t for t in programme["talks"]}
        c.check(done["keynote"]["actual_end"] is not None and done["codecs"]["actual_end"] is not None and
                done["panel"]["actual_end"] is None, f"starting the next ended the previous: {programme}")
        status, body, _ = moderator.call("POST", "/api/programme/next")
        c.check(status == 409 and body["error"] == "nothing_next", f"no talk left: {status} {body}")
        answer = moderator.ok("POST", "/api/programme/panel/end")
        c.check(answer["on_stage"] is None and answer["next"] is None, f"the last talk ended: {answer}")
        status, body, _ = moderator.call("POST", "/api/programme/keynote/start")
        c.check(status == 409 and body["error"] == "already_ended", f"an ended talk cannot start again: {status} {body}")
        c.check(len(public.ok("GET", "/api/qa/rooms")["rooms"]) == 4, "the default room plus one per talk")

        # An admin changes a talk during the event; calendars see it under the same UID.
        admin = QaClient(relay.port, "admin-token-0123456789abcdef0000")
        change = {"title": "Panel: Fragen, Antworten", "end": "2027-03-10T11:30:00Z"}
        status, body, _ = moderator.call("PUT", "/api/programme/panel", change)
        c.check(status == 403 and body["error"] == "forbidden", f"a moderator may not change talks: {status} {body}")
        status, body, _ = admin.call("PUT", "/api/programme/panel", {"start": "2027-03-10T09:30:00Z"})
        c.check(status == 422 and "overlaps 'codecs'" in body["message"], f"an overlapping change: {status} {body}")
        answer = admin.ok("PUT", "/api/programme/panel", change)
        c.check(answer["talks"][2]["title"] == change["title"] and answer["talks"][2]["planned_end"] == "2027-03-10T11:30:00Z",
                f"the change is in the programme: {answer['talks'][2]}")
        panel = next(e for e in events(parse_ics(relay.get("/programme.ics"))) if e["UID"][1].startswith("panel@"))
        c.check(unescape(panel["SUMMARY"][1]) == change["title"] and panel["DTEND"][1] == "20270310T113000Z" and
                panel["UID"][1] in by_uid, f"the calendar has the change under the same UID: {panel}")

        c.check(relay.get("/api/health") is not None and relay.proc.poll() is None, "the relay serves on")
        c.check("Bearer" not in relay.log_text() and MODERATOR not in relay.log_text(), "no token in the log")
    c.finish()


if __name__ == "__main__":
    main()
