"""A recording disk that fills up (docs/recording.md, "Disk space"), on the real
binary with one small rendition and 1 s segments: recording.dir is a small
tmpfs; once the relay records, the test fills the tmpfs to a few hundred kB
(as other files on a shared disk would), so the free space is below
recording.warn_free_mb at once and the recording's own segments then run into
ENOSPC within seconds. The recording_disk_low alert fires; the recording stops
with reason disk_full, the recording_stopped alert fires, and the journal ends
with a stop line (or, when even that did not fit, with complete lines only);
the live playlist keeps advancing and a segment made after the stop is served.
Needs root for mount; skipped otherwise."""
import json
import os
import subprocess
import sys
import tempfile

from relay_harness import TECH_TOKEN, Checks, Relay, parse_args

EVENT = "disk-full"
RUNG = '[{name="180p",width=320,height=180,bitrate_kbps=400,profile="baseline"}]'


def journal_lines(event_dir):
    with open(os.path.join(event_dir, "journal.jsonl"), "rb") as f:
        text = f.read().decode("utf-8", "replace")
    return text, [json.loads(line) for line in text.split("\n")[:-1] if line]


def main():
    args = parse_args()
    if os.geteuid() != 0:
        print("SKIP: mounting a tmpfs needs root (this test fills a small file system on purpose)")
        sys.exit(0)
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="relay-disk-full-")
    mount = os.path.join(tmp, "disk")
    os.makedirs(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "relay-test", mount], check=True, timeout=30)
    try:
        rec_dir = os.path.join(mount, "rec")
        event_dir = os.path.join(rec_dir, EVENT)
        overrides = ["ingest.width=320", "ingest.height=180", "encoder.preset=ultrafast", f"encoder.renditions={RUNG}",
                     "hls.segment_duration_s=1", "hls.part_duration_s=0.2", "hls.live_window=10",
                     "recording.enabled=true", f"recording.dir={rec_dir}", f"recording.event={EVENT}",
                     "recording.warn_free_mb=1", "recording.stop_free_mb=0"]
        with Relay(args.binary, args.source_dir, overrides) as relay:
            relay.wait_for(lambda: len(journal_lines(event_dir)[1]) >= 4, 40, "the first recorded segments")

            def state():
                return json.loads(relay.get("/api/recording", headers={"Authorization": f"Bearer {TECH_TOKEN}"}))

            c.check(state()["state"] == "recording", "recording on a roomy disk")
            # Someone else's files take the disk down to a few hundred kB.
            free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
            with open(os.path.join(mount, "filler"), "wb") as f:
                f.write(b"\0" * max(0, free - 300_000))
            codes = lambda: json.loads(relay.get("/api/health"))["codes"]
            relay.wait_for(lambda: "alert_recording_disk_low" in codes(), 15, "the recording_disk_low alert")
            c.check(True, "recording_disk_low fires below recording.warn_free_mb")
            stopped = relay.wait_for(lambda: (lambda s: s if s["state"] == "stopped" else None)(state()), 40,
                                     "the recording to stop on the full disk")
            c.check(stopped["stop_reason"] == "disk_full", f"it stopped for a full disk: {stopped}")
            c.check(stopped["last_error"] and "No space" in stopped["last_error"],
                    f"the error says why: {stopped['last_error']}")
            relay.wait_for(lambda: "alert_recording_stopped" in codes(), 10, "the recording_stopped alert")
            c.check(True, "recording_stopped fires")
            text, lines = journal_lines(event_dir)
            c.check(text.endswith("\n"), "the journal holds complete lines only")
            if lines[-1]["type"] == "stop":
                c.check(lines[-1]["reason"] == "disk_full", f"the stop line says disk_full: {lines[-1]}")
            else:
                print(f"note: the stop line did not fit; the journal ends with a {lines[-1]['type']} line")
            leftovers = [f for _, _, files in os.walk(event_dir) for f in files if f.endswith(".tmp")]
            c.check(not leftovers, f"no partial file is left behind: {leftovers}")
            c.check(all(os.path.exists(os.path.join(event_dir, l["file"])) for l in lines if l["type"] == "segment"),
                    "every journalled segment is whole on disk")

            # The live stream goes on: new segments are listed and served.
            relay.wait_for_new_segments("180p", 2, timeout=15)
            newest = relay.newest_msn("180p")
            c.check(len(relay.segment("180p", newest)) > 0, f"segment {newest}, made after the stop, is served")
            c.check(relay.proc.poll() is None, "the relay runs on")
    finally:
        subprocess.run(["umount", "-l", mount], timeout=30)
    c.finish()


if __name__ == "__main__":
    main()
