#!/usr/bin/env python3
"""Secrets never reach a log line, an error, health, /metrics or --check-config
(issue 16 item 4).

Two relays at log.level=debug, with inputs that fail (closed loopback ports):
one pulls rtsp://user:<password with / and @, percent-encoded>@..., has an SRT
listener with a passphrase in its URI as backup, an ingest.srt_passphrase and a
webhook URL with ?key=...; the other pulls an RTMP stream key and an RTSP
camera that takes a token as its user name. Once the inputs have failed and the
webhook has been tried, no secret is in the log, /api/health (public and as a
technician), /metrics, /api/incidents, nor in --check-config's output, valid or
with an invalid value next to the secrets."""
import json
import subprocess

from relay_harness import LIGHT, Checks, Relay, free_port, parse_args

RTSP_PASSWORD = "pa%2Fss%40w0rd"  # "pa/ss@w0rd", percent-encoded as a URI needs it
SRT_URI_PASSPHRASE = "srt-uri-passphrase-77"
SRT_KEY_PASSPHRASE = "srt-key-passphrase-88"
WEBHOOK_KEY = "webhook-key-99"
STREAM_KEY = "rtmp-stream-key-66"
USER_TOKEN = "camera-user-token-55"
VOD_CODE = "vod-event-code-44"
VOD_COOKIE_KEY = "vod-cookie-key-33-0123456789abcdef0123"
SHORT_COOKIE_KEY = "vod-short-key-22"
SECRETS = [RTSP_PASSWORD, "pa/ss", "w0rd", SRT_URI_PASSPHRASE, SRT_KEY_PASSPHRASE, WEBHOOK_KEY, STREAM_KEY, USER_TOKEN,
           VOD_CODE, VOD_COOKIE_KEY, SHORT_COOKIE_KEY]


def leaked(text):
    return [s for s in SECRETS if s in text]


def check_config(args, overrides):
    cmd = [args.binary, "--config", f"{args.source_dir}/config/relay.toml", "--check-config"]
    for o in overrides:
        cmd += ["--set", o]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return out.returncode, out.stdout + out.stderr


def check_surfaces(c, relay, name):
    """The log and every surface a technician or the public may read."""
    texts = {
        "the log": relay.log_text(),
        "public /api/health": relay.request("/api/health", technician=False)[2].decode(errors="replace"),
        "/api/health as a technician": relay.get("/api/health").decode(errors="replace"),
        "/metrics": relay.get("/metrics").decode(errors="replace"),
        "/api/incidents": relay.get("/api/incidents").decode(errors="replace"),
    }
    for what, text in texts.items():
        c.check(not leaked(text), f"{name}: no secret in {what} ({leaked(text)})")


def main():
    args = parse_args()
    c = Checks()
    closed = free_port()  # nothing listens here: every pull fails at once
    first = [
        f"ingest.source=rtsp://user:{RTSP_PASSWORD}@127.0.0.1:{closed}/hall",
        f"ingest.backup_source=srt://:{free_port()}?mode=listener&passphrase={SRT_URI_PASSPHRASE}",
        f"ingest.srt_passphrase={SRT_KEY_PASSPHRASE}",
        f"health.webhook_url=http://127.0.0.1:{closed}/hook?key={WEBHOOK_KEY}", "health.allow_insecure_webhooks=true",
        "health.webhook_retries=0", "health.input_lost_hold_s=0", "ingest.reconnect_max_s=1",
        "vod.enabled=true", f"vod.event_code={VOD_CODE}", f"vod.cookie_key={VOD_COOKIE_KEY}",
    ]
    second = [
        f"ingest.source=rtmp://127.0.0.1:{closed}/live/{STREAM_KEY}",
        f"ingest.backup_source=rtsp://{USER_TOKEN}@127.0.0.1:{closed}/cam",
        "ingest.reconnect_max_s=1",
    ]
    for name, overrides in (("rtsp+srt+webhook", first), ("rtmp+token", second)):
        code, text = check_config(args, overrides)
        c.check(code == 0 and not leaked(text), f"{name}: --check-config passes and shows no secret ({code} {text!r})")
        # An invalid value next to the secrets: the error names the key, not them.
        code, text = check_config(args, overrides + ["edge.threads=0"])
        c.check(code != 0 and "edge.threads" in text and not leaked(text),
                f"{name}: a config error shows no secret ({code} {text!r})")

        with Relay(args.binary, args.source_dir, LIGHT + ["log.level=debug"] + overrides) as relay:
            relay.wait_for(lambda: "error from" in relay.log_text(), 30, f"{name}: the dead input's error")
            if name.startswith("rtsp"):
                relay.wait_for(lambda: "webhook" in relay.log_text() and "giving up" in relay.log_text(), 30,
                               f"{name}: the webhook's failure")
            # The log line comes first; the health report follows on the next sample.
            def inputs_with_error():
                inputs = json.loads(relay.get("/api/health"))["ingest"]["inputs"]
                return inputs if any(i["last_error"] for i in inputs) else None
            try:
                inputs = relay.wait_for(inputs_with_error, 10, f"{name}: the input's error in health")
            except AssertionError:
                inputs = "no input error within 10 s"
            c.check(isinstance(inputs, list), f"{name}: health names the input's error ({inputs})")
            check_surfaces(c, relay, name)

    # Invalid URIs that quote themselves in the error: a raw '/' in a password, a bad port after a token.
    for bad in ("ingest.source=rtsp://user:pa/ss@127.0.0.1:99999/x",
                f"ingest.source=rtsp://{USER_TOKEN}@127.0.0.1:0/x",
                f"ingest.source=srt://:9000?mode=listen&passphrase={SRT_URI_PASSPHRASE}",
                f"health.webhook_url=ftp://h/hook?key={WEBHOOK_KEY}",
                f"vod.cookie_key={SHORT_COOKIE_KEY}"):
        code, text = check_config(args, [bad])
        c.check(code != 0 and not leaked(text), f"an invalid value's error shows no secret ({code} {text!r})")
    c.finish()


if __name__ == "__main__":
    main()
