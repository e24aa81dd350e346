"""Recordings on demand on the real binary: a programme of three short talks on
`test:` (1 s segments, light ladder), recording on, VOD behind an event code.
The moderator marks each talk's start and end; after each end its VOD master
and media playlists exist (PLAYLIST-TYPE:VOD, ENDLIST, a PDT per segment, the
total of EXTINF the marked duration within the cut's bound) and ffmpeg -xerror
plays the talk through; the whole event's playlists carry one DATERANGE per
talk and chapters.vtt lists the three titles; a live caption posted during the
second talk is in that talk's .vtt download on its timeline; the answered
questions of a talk come without who asked; without the session cookie (or with a wrong code)
playlists and segments answer 403; names not in the journal, traversal and
encoded traversal answer 400/404 and never a file."""
import json
import math
import os
import re
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone

from qa_harness import MODERATOR, QaClient, new_attendee, qa_overrides
from relay_harness import Checks, Relay, parse_args

EVENT = "vod-test"
CAPTIONER = "captioner-token-0123456789abcdef"
CAPTION = "Codecs & containers <explained>"
CODE = "seminar-code-2026"
SEGMENT_S = 1.0


def talks_config():
    # Planned slots around now (the marks, not the plan, cut the recordings).
    now = datetime.now(timezone.utc).replace(microsecond=0)
    blocks = []
    for i, (talk_id, title) in enumerate([("opening", "Opening: “Welcome”"), ("codecs", "Codecs, AV1 & co"),
                                          ("panel", "Panel")]):
        start = now + timedelta(minutes=10 * i)
        blocks.append(f'''
[[programme.talks]]
id = "{talk_id}"
title = "{title}"
speakers = ["Speaker {i + 1}"]
language = "en"
start = "{start.isoformat().replace('+00:00', 'Z')}"
end = "{(start + timedelta(minutes=10)).isoformat().replace('+00:00', 'Z')}"
''')
    return "".join(blocks)


def write_config(source_dir, tmp):
    with open(os.path.join(source_dir, "config", "relay.toml"), encoding="utf-8") as f:
        text = f.read().replace('"../', f'"{source_dir}/')
    path = os.path.join(tmp, "relay.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + talks_config())
    return path


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="vod-")
    config = write_config(os.path.abspath(args.source_dir), tmp)
    recordings = os.path.join(tmp, "recordings")
    overrides = qa_overrides(os.path.join(tmp, "qa"), [
        "hls.segment_duration_s=1", "hls.part_duration_s=0.2", "hls.live_window=8",
        "recording.enabled=true", f"recording.dir={recordings}", f"recording.event={EVENT}",
        "vod.enabled=true", 'vod.access="event_code"', f'vod.event_code="{CODE}"',
        'captions.languages=[{code="en",name="English"}]', f'qa.captioner_tokens=["{CAPTIONER}"]',
    ])
    started = time.time()
    with Relay(args.binary, args.source_dir, overrides, config=config) as relay:
        public = QaClient(relay.port)
        moderator = QaClient(relay.port, MODERATOR)
        relay.wait_for(lambda: relay.request("/live/master.m3u8")[0] == 200, 40, "the live master")
        journal = os.path.join(recordings, EVENT, "journal.jsonl")

        def segments_recorded():
            try:
                with open(journal, encoding="utf-8") as f:
                    return sum(1 for line in f if '"type":"segment"' in line)
            except FileNotFoundError:
                return 0

        def wait_segments(more):
            target = segments_recorded() + more
            relay.wait_for(lambda: segments_recorded() >= target, 30, f"{more} more recorded segments")

        # The event code: refused without, with a wrong one, and slowed after a few tries.
        status, body, _ = public.call("GET", "/api/vod")
        c.check(status == 403 and body["error"] == "code_required", f"/api/vod without a session: {status} {body}")
        status, body, _ = public.call("POST", "/api/vod/session", {"code": "not-the-code"})
        c.check(status == 403 and body["error"] == "wrong_code", f"a wrong code: {status} {body}")
        status, body, headers = public.call("POST", "/api/vod/session", {"code": CODE})
        cookie_header = headers.get("set-cookie", "")
        c.check(status == 200 and cookie_header.startswith("relay_vod=") and "HttpOnly" in cookie_header and
                "SameSite=Strict" in cookie_header, f"the right code: {status} {body} {cookie_header!r}")
        cookie = cookie_header.split(";", 1)[0]
        c.check(CODE not in relay.log_text(), "the event code is not in the log")
        viewer = {"Cookie": cookie}

        def get(path, headers=None):
            return relay.request(path, headers={**viewer, **(headers or {})})

        # A question answered during the first talk, for its export.
        attendee, _ = new_attendee(relay.port, "Alice Example")

        wait_segments(2)
        marks = []
        for talk_id in ("opening", "codecs", "panel"):
            moderator.ok("POST", f"/api/programme/{talk_id}/start")
            if talk_id == "opening":
                asked = attendee.ok("POST", "/api/qa/rooms/current/questions", {"text": "Will the slides be online?"})
                moderator.ok("POST", f"/api/qa/questions/{asked['id']}/approve")
                moderator.ok("POST", f"/api/qa/questions/{asked['id']}/answer", {"text": "Yes, tomorrow."})
            if talk_id == "codecs":
                # A live caption during the second talk, for its .vtt download.
                QaClient(relay.port, CAPTIONER).ok("POST", "/api/captions/en", {"text": CAPTION, "duration_s": 2})
            # While on stage: no VOD yet, with a reason.
            status, body, _ = QaClient(relay.port).call("GET", f"/vod/{EVENT}/{talk_id}/master.m3u8", headers=viewer)
            c.check(status == 404 and isinstance(body, dict) and body.get("error") in ("in_progress", "not_found"),
                    f"{talk_id} on stage: {status} {body}")
            wait_segments(3 * 4)  # about 3 s of every rendition
            moderator.ok("POST", f"/api/programme/{talk_id}/end")
            marks.append(talk_id)
        wait_segments(4)

        # The listing: every talk available within the journal's re-read interval (2 s) of its end.
        def listed():
            status, _, raw = get("/api/vod")
            found = next((e for e in json.loads(raw)["events"] if e["id"] == EVENT), None) if status == 200 else None
            return found if found and all(t["state"] == "available" for t in found["talks"]) else None
        event = relay.wait_for(listed, 10, "the three talks available in /api/vod")
        talks = {t["id"]: t for t in event["talks"]}
        c.check(list(talks) == ["opening", "codecs", "panel"] and
                all(t["state"] == "available" for t in talks.values()), f"three talks available: {event['talks']}")

        for talk_id, talk in talks.items():
            marked = (parse_time(talk["end"]) - parse_time(talk["start"])).total_seconds()
            status, headers, raw = get(talk["urls"]["master"])
            master = raw.decode()
            c.check(status == 200 and headers["content-type"] == "application/vnd.apple.mpegurl" and
                    master.startswith("#EXTM3U") and "#EXT-X-STREAM-INF:" in master and
                    "CONTENT-STEERING" not in master, f"{talk_id}: master {status} {master[:300]!r}")
            variants = re.findall(r"^([^#\n][^\n]*)$", master, re.M)
            c.check(len(variants) >= 1 and all(v.endswith("/index.m3u8") for v in variants),
                    f"{talk_id}: variant URIs {variants}")
            base = talk["urls"]["master"].rsplit("/", 1)[0]
            status, headers, raw = get(f"{base}/{variants[0]}")
            playlist = raw.decode()
            extinf = [float(x) for x in re.findall(r"#EXTINF:([0-9.]+),", playlist)]
            pdts = re.findall(r"#EXT-X-PROGRAM-DATE-TIME:", playlist)
            total = sum(extinf)
            c.check(status == 200 and "#EXT-X-PLAYLIST-TYPE:VOD" in playlist and
                    playlist.rstrip().endswith("#EXT-X-ENDLIST") and len(pdts) == len(extinf) > 0 and
                    "immutable" in headers.get("cache-control", "") and "private" in headers["cache-control"],
                    f"{talk_id}: media playlist {status} {headers.get('cache-control')} {playlist[:400]!r}")
            # Cut on segment boundaries: up to one partial segment at each end, never less than the talk.
            c.check(marked - 0.05 <= total <= marked + 2 * SEGMENT_S + 0.05 and
                    abs(total - talk["duration_s"]) < 0.01,
                    f"{talk_id}: EXTINF total {total:.3f} s for a marked {marked:.3f} s (listing {talk['duration_s']})")
            # A segment and its init: immutable, the right type, ranges.
            segment_uri = re.findall(r"^(\.\./\.\./media/[^\n]+\.m4s)$", playlist, re.M)[0]
            segment_path = os.path.normpath(f"{base}/{variants[0].rsplit('/', 1)[0]}/{segment_uri}")
            status, headers, body = get(segment_path)
            c.check(status == 200 and headers["content-type"] == "video/mp4" and len(body) > 100 and
                    "immutable" in headers["cache-control"] and headers.get("etag"),
                    f"{talk_id}: segment {segment_path}: {status} {headers}")
            status, headers, part = get(segment_path, {"Range": "bytes=0-99"})
            c.check(status == 206 and part == body[:100], f"{talk_id}: a range of a segment: {status}")
            status, _, _ = relay.request(segment_path)
            c.check(status == 403, f"{talk_id}: the segment without the cookie: {status}")
            status, _, _ = relay.request(talk["urls"]["master"])
            c.check(status == 403, f"{talk_id}: the master without the cookie: {status}")
            status, _, _ = relay.request(f"{base}/{variants[0]}", headers={"Cookie": "relay_vod=99999999999.00ff"})
            c.check(status == 403, f"{talk_id}: a forged cookie: {status}")

            # ffmpeg plays the whole presentation with the cookie.
            run = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-xerror", "-headers", f"Cookie: {cookie}\r\n",
                                  "-i", f"http://127.0.0.1:{relay.port}{talk['urls']['master']}", "-f", "null", "-"],
                                 capture_output=True, text=True, timeout=60)
            c.check(run.returncode == 0, f"{talk_id}: ffmpeg -xerror plays the VOD: {run.returncode} {run.stderr[-600:]}")

        # The MP4 download of the first talk: made on first request, index first, the talk's duration.
        talk = talks["opening"]
        rendition, url = next(iter(talk["urls"]["mp4"].items()))
        status, headers, mp4 = get(url)
        c.check(status == 200 and headers["content-type"] == "video/mp4" and len(mp4) > 1000 and
                "attachment" in headers.get("content-disposition", ""), f"MP4 download {url}: {status} {headers}")
        boxes, pos = [], 0
        while pos + 8 <= len(mp4):
            size = int.from_bytes(mp4[pos:pos + 4], "big")
            kind = mp4[pos + 4:pos + 8].decode("latin-1")
            if size == 1:
                size = int.from_bytes(mp4[pos + 8:pos + 16], "big")
            boxes.append(kind)
            if size < 8:
                break
            pos += size
        c.check("moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat") and
                "moof" not in boxes, f"top-level boxes: {boxes}")
        path = os.path.join(tmp, "download.mp4")
        with open(path, "wb") as f:
            f.write(mp4)
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", path],
                               capture_output=True, text=True, timeout=30)
        duration = float(json.loads(probe.stdout or "{}").get("format", {}).get("duration", "nan"))
        c.check(probe.returncode == 0 and abs(duration - talk["duration_s"]) <= SEGMENT_S,
                f"ffprobe: {probe.returncode} {duration} s for a {talk['duration_s']} s talk {probe.stderr[-300:]}")
        status, headers, part = get(url, {"Range": "bytes=100-199"})
        c.check(status == 206 and part == mp4[100:200] and headers.get("content-range") == f"bytes 100-199/{len(mp4)}",
                f"a range of the MP4: {status} {headers.get('content-range')}")
        status, _, _ = relay.request(url)
        c.check(status == 403, f"the MP4 without the cookie: {status}")
        mode = os.stat(os.path.join(recordings, EVENT, "downloads", f"opening-{rendition}.mp4")).st_mode & 0o777
        c.check(mode == 0o600, f"the download is 0600: {oct(mode)}")

        # The captions of the second talk as one WebVTT file on the talk's timeline; none in the first.
        url = talks["codecs"]["urls"]["captions"].get("en")
        status, headers, raw = get(url) if url else (0, {}, b"")
        vtt = raw.decode(errors="replace")
        cue_times = re.findall(r"^(\d+):(\d\d):(\d\d\.\d+) --> (\d+):(\d\d):(\d\d\.\d+)", vtt, re.M)
        seconds = [int(h) * 3600 + int(m) * 60 + float(x) for t in cue_times for h, m, x in (t[:3], t[3:])]
        c.check(status == 200 and headers["content-type"].startswith("text/vtt") and vtt.startswith("WEBVTT") and
                "Codecs &amp; containers &lt;explained&gt;" in vtt and len(cue_times) == 1 and
                0 <= seconds[0] < seconds[1] <= talks["codecs"]["duration_s"] + 0.01,
                f"the second talk's captions {url}: {status} {vtt[:300]!r}")
        # The first talk's file follows its video, which ends on a segment boundary
        # after its end mark: a cue from the next talk shows only in that overlap.
        opening = talks["opening"]
        marked = (parse_time(opening["end"]) - parse_time(opening["start"])).total_seconds()
        url = opening["urls"]["captions"].get("en")
        status, _, raw = get(url) if url else (0, {}, b"")
        starts = [int(h) * 3600 + int(m) * 60 + float(x)
                  for h, m, x in re.findall(r"^(\d+):(\d\d):(\d\d\.\d+) -->", raw.decode(errors="replace"), re.M)]
        c.check(status == 200 and raw.startswith(b"WEBVTT") and all(marked - 0.05 <= t for t in starts),
                f"the first talk's captions: cues only past its end mark ({marked:.3f} s): {status} {raw[:200]!r}")
        status, _, _ = relay.request(talks["codecs"]["urls"]["captions"].get("en", "/vod/x"))
        c.check(status == 403, f"the captions without the cookie: {status}")

        # The answered question of the first talk, without who asked.
        status, headers, raw = get(f"/vod/{EVENT}/opening/questions.json")
        text = raw.decode(errors="replace")
        c.check(status == 200 and "Will the slides be online?" in text and "Yes, tomorrow." in text and
                "Alice" not in text, f"answered questions of the opening: {status} {text[:300]}")
        status, headers, raw = get(f"/vod/{EVENT}/opening/questions.csv")
        text = raw.decode(errors="replace")
        c.check(status == 200 and headers["content-type"].startswith("text/csv") and
                text.startswith("asked,answered,votes,question,answer\r\n") and "Will the slides be online?" in text
                and "Alice" not in text, f"answered questions as CSV: {status} {text[:300]}")

        # The whole event: every talk a DATERANGE after the first PDT, and chapters.
        status, _, raw = get(event["urls"]["master"])
        whole_master = raw.decode()
        whole_variant = re.findall(r"^([^#\n][^\n]*)$", whole_master, re.M)[0]
        status, _, raw = get(event["urls"]["master"].rsplit("/", 1)[0] + "/" + whole_variant)
        whole = raw.decode()
        ranges = re.findall(r'#EXT-X-DATERANGE:ID="talk-([a-z-]+)",CLASS="com.seminar-relay.talk"', whole)
        c.check(status == 200 and ranges == ["opening", "codecs", "panel"] and
                whole.index("#EXT-X-PROGRAM-DATE-TIME:") < whole.index("#EXT-X-DATERANGE:") and
                'X-TITLE="Codecs, AV1 & co"' in whole, f"whole event: DATERANGEs {ranges}")
        status, headers, raw = get(event["urls"]["chapters"])
        vtt = raw.decode()
        c.check(status == 200 and headers["content-type"].startswith("text/vtt") and vtt.startswith("WEBVTT") and
                all(title in vtt for title in ("Opening: “Welcome”", "Codecs, AV1 & co", "Panel")) and
                len(event["chapters"]) == 3, f"chapters.vtt: {vtt!r}")
        cues = re.findall(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> ", vtt)
        starts = [int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 for h, m, s, ms in cues]
        c.check(starts == sorted(starts) and len(starts) == 3, f"chapter starts in order: {starts}")

        # Names that are not journaled files, traversal, encoded traversal, NUL, absolute paths.
        for path in (f"/vod/{EVENT}/media/../journal.jsonl", f"/vod/{EVENT}/media/%2e%2e/journal.jsonl",
                     f"/vod/{EVENT}/media/360p/%2e%2e%2f%2e%2e%2fjournal.jsonl", f"/vod/{EVENT}/journal.jsonl",
                     f"/vod/{EVENT}/media/360p/journal.jsonl", f"/vod/{EVENT}/media//etc/passwd",
                     f"/vod/{EVENT}/media/%2fetc%2fpasswd", f"/vod/{EVENT}/media/360p/x%00.m4s",
                     "/vod/..%2f..%2fetc/passwd", f"/vod/%2e%2e/{EVENT}/chapters.vtt", "/vod/nope/chapters.vtt",
                     f"/vod/{EVENT}/media/360p/.journal.jsonl"):
            status, _, body = get(path)
            c.check(status in (400, 404) and b'"type"' not in body and b"root:" not in body,
                    f"{path}: {status} {body[:120]!r}")

    print(f"test_vod: {time.time() - started:.1f} s")
    c.finish()


if __name__ == "__main__":
    main()
