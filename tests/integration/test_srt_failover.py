#!/usr/bin/env python3
"""Automatic input failover: a primary and a backup SRT sender push to two
listeners. Killing the primary puts the backup on air at once; when the primary
returns and has been up for failback_s, the relay goes back to it."""
import json
import tempfile
import time

from ingest_peers import (SLATE, Sender, Watcher, hls_reader, newest_segment_luma, sender_cmd, timestamp_problems,
                          udp_port)
from relay_harness import LIGHT, Checks, Relay, parse_args


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="srt-failover-")
    p_port, b_port = udp_port(), udp_port()
    failback_s = 4
    overrides = LIGHT + SLATE + [
        "hls.live_window=20",
        f"ingest.source=srt://127.0.0.1:{p_port}?mode=listener",
        f"ingest.backup_source=srt://127.0.0.1:{b_port}?mode=listener",
        f"ingest.failback_s={failback_s}",
    ]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        primary = Sender(sender_cmd(f"srt://127.0.0.1:{p_port}?pkt_size=1316", color="white"), "primary")
        # The backup is darker: the two are told apart by luma (white ≈ 235, 0x404040 ≈ 70).
        backup = Sender(sender_cmd(f"srt://127.0.0.1:{b_port}?pkt_size=1316", color="0x404040"), "backup")
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["state"] == "live", 30,
                       "the primary to go live")
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["inputs"][1]["state"] == "receiving",
                       20, "the backup to deliver pictures")
        relay.wait_for_segments("360p", 2)
        watcher = Watcher(relay, "360p")
        reader = hls_reader(relay, 35)
        time.sleep(4)
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(luma > 200, f"the primary is on air first (mean luma {luma:.0f})")

        lost_at = time.monotonic()
        primary.stop()
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["output"] == "backup", 5,
                       "the backup to go on air")
        took = time.monotonic() - lost_at
        print(f"backup on air {took:.2f} s after the primary was killed", flush=True)
        c.check(took < 1.5, f"failover within about 1 s of the loss (took {took:.2f} s, polling included)")
        h = json.loads(relay.get("/api/health"))
        c.check(h["ingest"]["state"] == "backup" and h["status"] == "degraded",
                f"health: on backup, degraded ({h['ingest']['state']}, {h['status']})")
        time.sleep(4)
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(50 < luma < 100, f"the backup's picture is on air (mean luma {luma:.0f})")

        restored = time.monotonic()
        primary = Sender(sender_cmd(f"srt://127.0.0.1:{p_port}?pkt_size=1316", color="white"), "primary")
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["inputs"][0]["state"] == "receiving",
                       20, "the primary to deliver pictures again")
        up_at = time.monotonic()
        h = json.loads(relay.get("/api/health"))
        c.check(h["ingest"]["output"] == "backup", "the primary is not taken back before failback_s")
        relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["output"] == "primary",
                       failback_s + 5, "the relay to return to the primary")
        waited = time.monotonic() - up_at
        print(f"back on the primary {waited:.1f} s after it delivered again (failback_s {failback_s})", flush=True)
        c.check(waited >= failback_s - 1.0, f"failback waited about failback_s ({waited:.1f} s)")
        # The newest whole segment then began after the switch.
        time.sleep(5)
        luma, _ = newest_segment_luma(relay, "360p", tmp)
        c.check(luma > 200, f"the primary's picture is back on air (mean luma {luma:.0f})")

        err = reader.communicate(timeout=60)[1]
        c.check(reader.returncode == 0, f"a player read through both switches: exit {reader.returncode} {err[-300:]}")
        watcher.stop()
        primary.stop()
        backup.stop()
        outputs = []
        for _, _, output in watcher.states:
            if not outputs or outputs[-1] != output:
                outputs.append(output)
        print("on air:", outputs, flush=True)
        c.check(outputs == ["primary", "backup", "primary"], f"on air went primary → backup → primary: {outputs}")
        c.check("slate" not in watcher.state_names(), "the slate never showed while a backup was up")
        gap = watcher.largest_gap(lost_at - 5)
        c.check(gap <= 2.6, f"no gap between new segments longer than the target duration: {gap:.2f} s")
        problems, count = timestamp_problems(relay, "360p", tmp)
        c.check(not problems, f"across {count} segments spanning both switches, video and sound advance by one "
                              f"fixed step: {problems}")
        h = json.loads(relay.get("/api/health"))
        c.check(h["ingest"]["loss_events"] == 1, f"one loss event ({h['ingest']['loss_events']})")
    c.finish()


if __name__ == "__main__":
    main()
