#!/usr/bin/env python3
"""No ingest hijack (issue 16 item 3): an SRT listener on every address without
a passphrase stops the relay at start with the key, the line and what to do;
with ingest.allow_unauthenticated = true it starts, warns loudly in the log and
/api/health reports the code "ingest_unauthenticated"."""
import json
import subprocess

from relay_harness import LIGHT, Checks, Relay, free_port, parse_args


def main():
    args = parse_args()
    c = Checks()
    port = free_port()
    exposed = f"ingest.source=srt://:{port}?mode=listener"
    cmd = [args.binary, "--config", f"{args.source_dir}/config/relay.toml", "--set", f"edge.listen=127.0.0.1:{free_port()}",
           "--set", exposed]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    c.check(out.returncode != 0 and "ingest.source" in text and "without a passphrase" in text
            and "ingest.allow_unauthenticated" in text and "srt_passphrase" in text,
            f"an open SRT listener is refused at start with what to do ({out.returncode} {text!r})")
    backup = subprocess.run(cmd[:-1] + [f"ingest.backup_source=srt://0.0.0.0:{port}?mode=listener"],
                            capture_output=True, text=True, timeout=30)
    c.check(backup.returncode != 0 and "ingest.backup_source" in backup.stderr,
            f"the same for the backup input ({backup.returncode} {backup.stderr!r})")

    with Relay(args.binary, args.source_dir, LIGHT + [exposed, "ingest.allow_unauthenticated=true"]) as relay:
        health = relay.wait_for(lambda: json.loads(relay.request("/api/health", technician=False)[2]), 20,
                                "/api/health")
        c.check("ingest_unauthenticated" in health["codes"] and health["status"] != "ok",
                f"allow_unauthenticated: health reports ingest_unauthenticated ({health})")
        c.check("UNAUTHENTICATED INGEST" in relay.log_text(), "allow_unauthenticated: a loud warning in the log")
    c.finish()


if __name__ == "__main__":
    main()
