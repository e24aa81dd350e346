"""Recording on the real binary (docs/recording.md), one small rendition with 1 s
segments on test:. With recording.enabled the event folder gets the segments,
init sections and a journal, 0600 files in 0700 folders, and a recorded
segment is byte for byte what the live playlist served for that msn; a
moderator's talk mark goes into the journal. Then kill -9 while recording, and
a restart on the same config continues the same event as run 2: the journal
reads back, at most one segment is missing around the crash, no .tmp is left,
the talk mark is back in the programme. The API: no token 401, an attendee 403,
the technician stops and starts (409 when already in that state), GET shows the
state. /metrics has the recording's figures. `seminar-relay purge` removes an
old event (a hand-written journal from long ago) but not the current one."""
import json
import os
import signal
import stat
import subprocess
import tempfile

from qa_harness import MODERATOR, QaClient, new_attendee
from relay_harness import TECH_TOKEN, Checks, Relay, media_segments, parse_args

EVENT = "seminar-test"
RUNG = '[{name="180p",width=320,height=180,bitrate_kbps=200,profile="baseline"}]'
TALKS = '''
[[programme.talks]]
id = "opening"
title = "Opening"
start = "2026-01-01T09:00:00Z"
end = "2026-01-01T10:00:00Z"
'''


def write_config(source_dir, tmp, rec_dir, data_dir):
    with open(os.path.join(source_dir, "config", "relay.toml"), encoding="utf-8") as f:
        text = f.read().replace('"../', f'"{source_dir}/')
    path = os.path.join(tmp, "relay.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + TALKS)
    return path


def journal(event_dir):
    """The journal's complete lines as JSON objects."""
    with open(os.path.join(event_dir, "journal.jsonl"), encoding="utf-8") as f:
        text = f.read()
    return [json.loads(line) for line in text.split("\n")[:-1] if line]


def segments_of(lines, rendition="180p"):
    return [l for l in lines if l["type"] == "segment" and l["rendition"] == rendition]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def recording_state(relay, token=TECH_TOKEN):
    status, _, body = relay.request("/api/recording", headers={"Authorization": f"Bearer {token}"})
    return status, json.loads(body)


def post(relay, path, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, _, body = relay.request(path, method="POST", headers=headers, technician=False)
    return status, json.loads(body)


def main():
    args = parse_args()
    c = Checks()
    source_dir = os.path.abspath(args.source_dir)
    tmp = tempfile.mkdtemp(prefix="relay-recording-")
    rec_dir = os.path.join(tmp, "rec")
    data_dir = os.path.join(tmp, "qa")
    config = write_config(source_dir, tmp, rec_dir, data_dir)
    event_dir = os.path.join(rec_dir, EVENT)
    overrides = ["ingest.width=320", "ingest.height=180", "encoder.preset=ultrafast", f"encoder.renditions={RUNG}",
                 "hls.segment_duration_s=1", "hls.part_duration_s=0.2", "hls.live_window=10",
                 f'qa.technician_tokens=["{TECH_TOKEN}"]', f'qa.moderator_tokens=["{MODERATOR}"]',
                 f"qa.data_dir={data_dir}", "recording.enabled=true", f"recording.dir={rec_dir}",
                 f"recording.event={EVENT}", "recording.warn_free_mb=0", "recording.stop_free_mb=0"]

    old_umask = os.umask(0o022)  # a usual umask: the modes must come from the relay, not from it
    relay = Relay(args.binary, source_dir, overrides, config=config)
    os.umask(old_umask)
    try:
        relay.wait_for_segments("180p", 3)
        lines = relay.wait_for(lambda: (lambda l: l if len(segments_of(l)) >= 3 else None)(journal(event_dir)),
                               20, "three recorded segments")
        runs = [l for l in lines if l["type"] == "run"]
        c.check(len(runs) == 1 and runs[0]["run"] == 1 and "#EXTM3U" in runs[0]["master"],
                f"one run line with the master: {runs}")
        c.check(mode(rec_dir) == 0o700 and mode(event_dir) == 0o700 and mode(os.path.join(event_dir, "180p")) == 0o700,
                f"folders are 0700: {oct(mode(rec_dir))} {oct(mode(event_dir))}")
        c.check(mode(os.path.join(event_dir, "journal.jsonl")) == 0o600, "the journal is 0600")
        first = segments_of(lines)[0]
        c.check(mode(os.path.join(event_dir, first["file"])) == 0o600, "segment files are 0600")
        c.check(first["file"] == f"180p/1-{first['msn']}.m4s" and first["init"] == "180p/init-1.mp4",
                f"names as REC-FORMAT: {first}")
        c.check(os.path.exists(os.path.join(event_dir, "180p", "init-1.mp4")), "the init section is recorded")

        # A segment as the live playlist serves it is what was recorded for its msn.
        playlist = relay.get("/live/180p/index.m3u8").decode()
        listed = {msn: uri for msn, _, uri, _ in media_segments(playlist)}
        recorded = {l["msn"]: l for l in segments_of(journal(event_dir))}
        common = sorted(set(listed) & set(recorded))
        c.check(len(common) >= 2, f"segments both listed live and recorded: {common}")
        for msn in common[-2:]:
            live = relay.get(f"/live/180p/{listed[msn]}")
            with open(os.path.join(event_dir, recorded[msn]["file"]), "rb") as f:
                disk = f.read()
            c.check(live == disk and recorded[msn]["bytes"] == len(disk), f"segment {msn}: the bytes on disk are the live ones")
            c.check(abs(recorded[msn]["duration"] - 1.0) < 0.1, f"segment {msn} lasts about 1 s: {recorded[msn]}")

        # A talk mark goes into the journal.
        moderator = QaClient(relay.port, MODERATOR)
        moderator.ok("POST", "/api/programme/opening/start")
        talk = relay.wait_for(lambda: [l for l in journal(event_dir) if l["type"] == "talk"], 10, "the talk line")
        c.check(talk[0]["talk"] == "opening" and "start" in talk[0], f"the talk's start is journalled: {talk}")

        # The API: tokens and states.
        status, body = post(relay, "/api/recording/stop", None)
        c.check(status == 401 and body["error"] == "no_token", f"stop without a token: 401 ({status} {body})")
        attendee, _ = new_attendee(relay.port, "Ann")
        status, body = post(relay, "/api/recording/stop", attendee.token)
        c.check(status == 403, f"stop as an attendee: 403 ({status} {body})")
        status, body = recording_state(relay, attendee.token)
        c.check(status == 403, f"GET as an attendee: 403 ({status})")
        status, body = recording_state(relay)
        c.check(status == 200 and body["state"] == "recording" and body["event"] == EVENT and body["run"] == 1 and
                body["segments"] >= 3 and body["bytes_written"] > 0 and body["disk_free_bytes"] > 0 and
                body["dropped"] == 0 and body["oldest_event"] == EVENT, f"GET /api/recording: {body}")
        status, body = post(relay, "/api/recording/start", TECH_TOKEN)
        c.check(status == 409 and body["error"] == "already_recording", f"start while recording: 409 ({status} {body})")
        status, _, body = relay.request("/api/recording/start", method="GET",
                                        headers={"Authorization": f"Bearer {TECH_TOKEN}"})
        c.check(status == 405, f"GET on start: 405 ({status})")
        status, body = post(relay, "/api/recording/stop", TECH_TOKEN)
        c.check(status == 200 and body["state"] == "stopped" and body["stop_reason"] == "operator",
                f"stop as the technician: {status} {body}")
        stops = [l for l in journal(event_dir) if l["type"] == "stop"]
        c.check(len(stops) == 1 and stops[0]["reason"] == "operator", f"a stop line: {stops}")
        status, body = post(relay, "/api/recording/stop", TECH_TOKEN)
        c.check(status == 409, f"stop while stopped: 409 ({status})")
        status, body = post(relay, "/api/recording/start", TECH_TOKEN)
        c.check(status == 200 and body["state"] == "recording" and body["run"] == 2, f"start again: run 2 ({body})")
        metrics = relay.get("/metrics").decode()
        c.check("seminar_relay_recording_active 1" in metrics, "/metrics: recording active")
        for name in ("seminar_relay_recording_bytes_total", "seminar_relay_recording_segments_total",
                     "seminar_relay_recording_dropped_total 0", "seminar_relay_recording_disk_free_bytes",
                     "seminar_relay_recording_oldest_event_timestamp_seconds"):
            c.check(name in metrics, f"/metrics has {name}")

        # kill -9 while recording.
        relay.wait_for(lambda: len([l for l in segments_of(journal(event_dir)) if l["run"] == 2]) >= 2, 20,
                       "run 2 segments")
        before = segments_of(journal(event_dir))
        live_newest = relay.newest_msn("180p")
        relay.proc.send_signal(signal.SIGKILL)
        relay.proc.wait()
    finally:
        relay.stop()

    relay = Relay(args.binary, source_dir, overrides, config=config)
    try:
        relay.wait_for(lambda: any(l["type"] == "segment" and l["run"] == 3 for l in journal(event_dir)), 40,
                       "a segment of run 3 after the restart")
        lines = journal(event_dir)
        runs = [l["run"] for l in lines if l["type"] == "run"]
        c.check(runs == [1, 2, 3], f"the restart continues the same event as the next run: {runs}")
        starts = [l for l in lines if l["type"] == "start" and l["run"] == 3]
        c.check(starts and starts[0]["reason"] == "restart", f"run 3 started for a restart: {starts}")
        leftovers = [f for _, _, files in os.walk(event_dir) for f in files if f.endswith(".tmp")]
        c.check(not leftovers, f"no .tmp left: {leftovers}")
        c.check(all(os.path.exists(os.path.join(event_dir, s["file"])) for s in segments_of(lines)),
                "every journalled segment is on disk")
        # Around the crash: the last segment of run 2 journalled, and the first of
        # run 3, are at most one segment (plus the restart's own gap) apart in time.
        run2 = [s for s in segments_of(lines) if s["run"] == 2]
        c.check(len(run2) >= len([s for s in before if s["run"] == 2]), "run 2's journalled segments survived the kill")
        msns = [s["msn"] for s in run2]
        c.check(msns == list(range(msns[0], msns[0] + len(msns))), f"run 2 has no hole: {msns}")
        c.check(msns[-1] >= live_newest - 1,
                f"at most one segment published before the kill is missing: recorded up to {msns[-1]}, "
                f"live had {live_newest}")
        # The talk mark is read back into the programme.
        programme = json.loads(relay.get("/api/programme"))
        opening = programme["talks"][0]
        c.check(opening["actual_start"] is not None and programme["on_stage"] == "opening",
                f"the restarted relay knows the talk on stage from the journal: {programme['on_stage']} {opening}")
        status, body = recording_state(relay)
        c.check(body["state"] == "recording" and body["run"] == 3, f"recording again, run 3: {body}")
    finally:
        relay.stop()

    # What the VOD side reads: the stop lines name the runs; run 2 has none (killed).
    lines = journal(event_dir)
    reasons = [(l["run"], l["reason"]) for l in lines if l["type"] == "stop"]
    c.check(reasons == [(1, "operator"), (3, "shutdown")], f"stop lines: operator, then shutdown: {reasons}")

    # purge: an old event goes, the current one stays.
    old_dir = os.path.join(rec_dir, "2020-01-01")
    os.makedirs(os.path.join(old_dir, "180p"))
    with open(os.path.join(old_dir, "journal.jsonl"), "w") as f:
        f.write(json.dumps({"type": "run", "run": 1, "at": "2020-01-01T09:00:00.000Z", "master": "#EXTM3U\n"}) + "\n")
        f.write(json.dumps({"type": "stop", "run": 1, "at": "2020-01-01T17:00:00.000Z", "reason": "shutdown"}) + "\n")
    out = subprocess.run([args.binary, "purge", "--config", config] + sum((["--set", o] for o in overrides), []),
                         capture_output=True, text=True, timeout=60)
    c.check("removed recorded event 2020-01-01" in out.stdout, f"purge says what it removed: {out.stdout} {out.stderr}")
    c.check(not os.path.exists(old_dir), "the old event is gone")
    c.check(os.path.exists(os.path.join(event_dir, "journal.jsonl")), "the current event is kept")
    out = subprocess.run([args.binary, "purge", "--config", config, "--before", "2099-01-01"] +
                         sum((["--set", o] for o in overrides), []), capture_output=True, text=True, timeout=60)
    c.check(os.path.exists(os.path.join(event_dir, "journal.jsonl")),
            f"--before in the future keeps the configured event: {out.stdout}")
    c.finish()


if __name__ == "__main__":
    main()
