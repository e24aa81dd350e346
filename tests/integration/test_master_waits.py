"""The master playlist is never served before every media playlist it names exists.
A relay with an SRT listener starts without its sender: from its first moment (before
any segment exists) the master and the media playlists are polled. The master's
first answer waits until every variant has its first segment (here the slate's), so
whenever it is 200 every variant it names is 200 too; a master that ran out of time
is 503 with Retry-After and a one-second cache lifetime, as are the media playlists
not there yet. Then an ffmpeg sender connects and the master, and every variant it
names, answer 200. (The relay before this change answered the master at once while
every media playlist was still 503.)"""
import json
import time

from ingest_peers import Sender, sender_cmd, udp_port
from relay_harness import LIGHT, Checks, Relay, master_variants, parse_args

RENDITIONS = ("360p", "240p", "180p")


def check_not_ready(c, what, status, headers):
    c.check(headers.get("retry-after") == "1", f"{what}: {status} with Retry-After: 1 ({headers.get('retry-after')})")
    c.check(headers.get("cache-control") == "public, max-age=1",
            f"{what}: {status} cacheable one second at most ({headers.get('cache-control')})")


def poll_until_master(c, relay, deadline):
    """Asks for the master until it is 200 (or the deadline); returns the 503s seen."""
    refused = 0

    while time.monotonic() < deadline:
        try:
            t0 = time.monotonic()
            status, headers, body = relay.request("/live/master.m3u8", timeout=15)
        except OSError:
            time.sleep(0.1)  # not listening yet
            continue
        if status == 200:
            print(f"master answered 200 after {time.monotonic() - t0:.1f} s", flush=True)
            variants = [uri for _, uri in master_variants(body.decode())]
            c.check(variants == [f"{n}/index.m3u8" for n in RENDITIONS], f"the master names the ladder: {variants}")
            for uri in variants:
                status, _, _ = relay.request(f"/live/{uri}")
                c.check(status == 200, f"master served: {uri} is there too ({status})")
            return refused, True
        c.check(status == 503, f"the master is 503 until its variants exist (got {status})")
        check_not_ready(c, "master", status, headers)
        c.check(time.monotonic() - t0 < 8, f"the master's wait is bounded ({time.monotonic() - t0:.1f} s)")
        refused += 1
        for name in RENDITIONS:
            status, headers, _ = relay.request(f"/live/{name}/index.m3u8")
            if status != 200:
                c.check(status == 503, f"{name}: 503 before its first segment (got {status})")
                check_not_ready(c, f"{name} playlist", status, headers)
    return refused, False


def main():
    args = parse_args()
    c = Checks()
    port = udp_port()
    overrides = LIGHT + [f"ingest.source=srt://127.0.0.1:{port}?mode=listener"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        # The first request goes out as soon as the relay listens, before its first segment.
        first_playlist = relay.wait_for(lambda: relay.request("/live/360p/index.m3u8"), 20, "the relay to listen")
        c.check(first_playlist[0] == 503, f"polling starts before the first segment ({first_playlist[0]})")
        refused, served = poll_until_master(c, relay, time.monotonic() + 30)
        state = json.loads(relay.get("/api/health"))["ingest"]["state"]
        print(f"without a sender: master refused {refused} times, then {'served' if served else 'still refused'} "
              f"(ingest {state})", flush=True)
        c.check(served, "without a sender the master is served once the slate's segments exist")

        sender = Sender(sender_cmd(f"srt://127.0.0.1:{port}?pkt_size=1316"))
        try:
            relay.wait_for(lambda: json.loads(relay.get("/api/health"))["ingest"]["state"] == "live", 30,
                           "the SRT input to go live")
            refused, served = poll_until_master(c, relay, time.monotonic() + 30)
            c.check(served, "with the sender on air the master is served")
        finally:
            sender.stop()
    c.finish()


if __name__ == "__main__":
    main()
