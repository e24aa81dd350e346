#!/usr/bin/env python3
"""Memory per connection of an HTTP server, for scripts/bench-edge.sh.

Opens --idle keep-alive connections, each after one complete GET of --path (so
each is a real keep-alive session, not a half-open socket), and reads the
server's resident memory (the sum of VmRSS over --pid) before and after. With
--blocked it then opens that many more connections, each sending a blocking
LL-HLS playlist request (_HLS_msn two segments ahead of the playlist, the most
rfc8216bis lets a server wait for), reads the memory while they are all held
(the relay's seminar_relay_http_requests_held gauge says when), and waits for
every answer. The idle connections stay open throughout, so the held requests
come on top of them. Prints one JSON object.

The client is asyncio on one thread: it only connects and waits, so it is not
what limits the figures; the open-file limit must allow the connections
(the caller raises ulimit -n).
"""
import argparse
import asyncio
import json
import re
import sys
import time


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = await reader.readexactly(length)
    return status, body


def request(host, path, token=None):
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: bench-edge\r\n{auth}\r\n".encode()


async def get(host, port, path, token=None):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request(host, path, token))
    result = await read_response(reader)
    writer.close()
    return result


class Idle:
    """One keep-alive connection after one request; notices when the server closes it."""

    def __init__(self):
        self.closed_by_server = False
        self.writer = None

    async def open(self, host, port, path, gate):
        async with gate:
            reader, self.writer = await asyncio.open_connection(host, port)
            self.writer.write(request(host, path))
            status, _ = await read_response(reader)
        if status != 200:
            raise RuntimeError(f"{path}: status {status}")
        asyncio.get_running_loop().create_task(self.watch(reader))

    async def watch(self, reader):
        try:
            if not await reader.read(1):
                self.closed_by_server = True
        except (ConnectionError, asyncio.CancelledError):
            self.closed_by_server = True


async def blocked(host, port, path, gate, timeout_s):
    async with gate:
        reader, writer = await asyncio.open_connection(host, port)
    writer.write(request(host, path))
    sent = time.monotonic()
    try:
        status, _ = await asyncio.wait_for(read_response(reader), timeout_s)
    except asyncio.TimeoutError:
        status = 0
    finally:
        writer.close()
    return status, time.monotonic() - sent


async def held_requests(host, port, token):
    try:
        status, body = await get(host, port, "/metrics", token)
    except OSError:
        return None
    m = re.search(rb"^seminar_relay_http_requests_held(?:\{[^}]*\})? ([0-9.e+]+)$", body, re.M)
    return int(float(m.group(1))) if status == 200 and m else None


async def main(args):
    pids = [int(p) for p in args.pid.split(",") if p]
    gate = asyncio.Semaphore(args.concurrency)
    out = {"idle": args.idle}
    await asyncio.sleep(1)
    out["rss_kib_before"] = rss_kib(pids)

    idle = [Idle() for _ in range(args.idle)]
    started = time.monotonic()
    await asyncio.gather(*(c.open(args.host, args.port, args.path, gate) for c in idle))
    out["idle_open_s"] = round(time.monotonic() - started, 2)
    await asyncio.sleep(args.settle)
    out["rss_kib_idle"] = rss_kib(pids)
    out["idle_kib_per_connection"] = round((out["rss_kib_idle"] - out["rss_kib_before"]) / max(1, args.idle), 2)

    if args.blocked:
        status, playlist = await get(args.host, args.port, args.blocked_path)
        if status != 200:
            raise RuntimeError(f"{args.blocked_path}: status {status}")
        last = max(int(m) for m in re.findall(rb"^seg(\d+)\.\w+$", playlist, re.M))
        target = f"{args.blocked_path}?_HLS_msn={last + 2}"
        out["blocked"] = args.blocked
        out["blocked_target"] = target
        tasks = [asyncio.ensure_future(blocked(args.host, args.port, target, gate, args.blocked_timeout))
                 for _ in range(args.blocked)]
        # Sample while all are held: the relay counts them; without the gauge, sample
        # once every request has been sent and nothing has come back yet.
        peak, rss_held = 0, None
        while not all(t.done() for t in tasks):
            held = await held_requests(args.host, args.port, args.token)
            if held is not None and held > peak:
                peak = held
                rss_held = rss_kib(pids)
            if held is not None and held >= args.blocked:
                break
            await asyncio.sleep(0.05)
        out["held_peak"] = peak
        out["rss_kib_held"] = rss_held
        if rss_held is not None:
            out["held_kib_per_request"] = round((rss_held - out["rss_kib_idle"]) / max(1, peak), 2)
        results = await asyncio.gather(*tasks)
        statuses = {}
        for status, _ in results:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        waits = sorted(w for _, w in results)
        out["blocked_statuses"] = statuses
        out["blocked_wait_s"] = {"min": round(waits[0], 3), "max": round(waits[-1], 3)}

    out["idle_closed_by_server"] = sum(c.closed_by_server for c in idle)
    out["rss_kib_end"] = rss_kib(pids)
    for c in idle:
        c.writer.close()
    print(json.dumps(out))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True, help="what each idle connection requests once")
    p.add_argument("--pid", required=True, help="server process ids whose VmRSS is summed, comma-separated")
    p.add_argument("--idle", type=int, default=5000)
    p.add_argument("--blocked", type=int, default=0)
    p.add_argument("--blocked-path", help="the media playlist the blocked requests ask for")
    p.add_argument("--blocked-timeout", type=float, default=30)
    p.add_argument("--concurrency", type=int, default=256, help="connections being opened at once")
    p.add_argument("--token", help="a technician token for the relay's /metrics (closed without one)")
    p.add_argument("--settle", type=float, default=2, help="seconds between opening and measuring")
    args = p.parse_args()
    if args.blocked and not args.blocked_path:
        p.error("--blocked needs --blocked-path")
    try:
        asyncio.run(main(args))
    except (OSError, RuntimeError, asyncio.IncompleteReadError) as e:
        print(f"edge_conns: {e}", file=sys.stderr)
        sys.exit(1)
