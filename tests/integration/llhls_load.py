"""A small LL-HLS load client: N simulated players, each on one rendition and
one base URL (a cache node or the relay), playing as a low-latency player does.

Each player reads the master playlist, then its media playlist once (a plain
request), then loops on blocking reloads (_HLS_msn/_HLS_part of the part after
the last one listed, as hls.js asks) and fetches every new part in order. The
preload-hinted part is asked for as soon as it is hinted, alongside the blocking
reload (as Safari does; the relay holds that request until the part is whole),
and the init section of every EXT-X-MAP and the newest whole segment at start.
Half the players ask for delta playlists (_HLS_skip=YES) when the playlist
allows them, so both forms of the blocking request are exercised.

Per player it records every part it fetched (by its position: media sequence
number and index, read from the playlist's structure, never from the names),
the media sequence of every playlist, the time each part arrived, and every
error. check() turns that into the failures the tests assert on: a part
skipped or out of order, a media sequence that went back, a blocking reload
answered with a playlist older than asked for, an error status.

All object names come from the playlists, so renaming segments, parts or init
sections on the relay does not affect this client.

Used by tests/integration/test_cache_*.py and scripts/bench-scale.sh:
    python3 llhls_load.py --base http://127.0.0.1:6081 [--base ...] --clients 300 --seconds 12
prints one JSON summary.
"""
import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field

import aiohttp

ATTR_RE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def attributes(text):
    return {k: v.strip('"') for k, v in ATTR_RE.findall(text)}


@dataclass
class MediaPlaylist:
    """What a player needs of a media playlist. Positions are (msn, part index),
    counted from EXT-X-MEDIA-SEQUENCE, EXT-X-SKIP and the order of the tags."""
    media_sequence: int = 0
    parts: list = field(default_factory=list)         # [((msn, index), uri)]
    segments: list = field(default_factory=list)      # [(msn, uri)]
    parts_per_segment: dict = field(default_factory=dict)  # msn -> part count, for whole segments
    hint_uri: str = None
    map_uri: str = None
    can_skip: bool = False
    ended: bool = False
    next_position: tuple = (0, 0)                      # the part after the last one listed


def parse_media_playlist(text):
    pl = MediaPlaylist()
    msn, index = None, 0
    for line in text.splitlines():
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            pl.media_sequence = int(line.split(":", 1)[1])
            msn = pl.media_sequence
        elif line.startswith("#EXT-X-SKIP:"):
            msn += int(attributes(line.split(":", 1)[1])["SKIPPED-SEGMENTS"])
        elif line.startswith("#EXT-X-PART:"):
            pl.parts.append(((msn, index), attributes(line.split(":", 1)[1])["URI"]))
            index += 1
        elif line.startswith("#EXT-X-PRELOAD-HINT:"):
            attrs = attributes(line.split(":", 1)[1])
            if attrs.get("TYPE") == "PART" and "BYTERANGE-START" not in attrs:
                pl.hint_uri = attrs["URI"]
        elif line.startswith("#EXT-X-MAP:"):
            pl.map_uri = attributes(line.split(":", 1)[1])["URI"]
        elif line.startswith("#EXT-X-SERVER-CONTROL:"):
            pl.can_skip = "CAN-SKIP-UNTIL" in line
        elif line.startswith("#EXT-X-ENDLIST"):
            pl.ended = True
        elif line and not line.startswith("#") and msn is not None:
            pl.segments.append((msn, line))
            if index:
                pl.parts_per_segment[msn] = index
            msn, index = msn + 1, 0
    pl.next_position = (msn, index) if msn is not None else (0, 0)
    return pl


def master_variants(text):
    """Variant URIs of a master playlist, in order."""
    lines = text.splitlines()
    return [lines[i + 1] for i, line in enumerate(lines) if line.startswith("#EXT-X-STREAM-INF:")]


def resolve(base_url, uri):
    """`uri` relative to the playlist at `base_url` (path-relative or absolute path)."""
    if uri.startswith(("http://", "https://")):
        return uri
    origin = re.match(r"^https?://[^/]+", base_url).group(0)
    if uri.startswith("/"):
        return origin + uri
    return base_url[:base_url.rfind("/") + 1] + uri


@dataclass
class PlayerRecord:
    base: str
    rendition: str
    parts: list = field(default_factory=list)          # [(msn, index)] in fetch order
    arrivals: dict = field(default_factory=dict)       # (msn, index) -> monotonic seconds
    media_sequences: list = field(default_factory=list)
    parts_per_segment: dict = field(default_factory=dict)
    stale: list = field(default_factory=list)          # blocking reloads answered with less than asked
    errors: list = field(default_factory=list)
    requests: int = 0


class Player:
    def __init__(self, session, base, playlist_url, skip, deadline):
        self.session = session
        self.url = playlist_url
        self.skip = skip
        self.deadline = deadline
        self.record = PlayerRecord(base, playlist_url[len(base):])
        self.fetched = set()     # URIs of parts fetched, so a hinted part is fetched once
        self.maps = set()

    async def get(self, url):
        self.record.requests += 1
        async with self.session.get(url) as r:
            body = await r.read()
            if r.status != 200:
                raise LoadError(f"{r.status} for {url[len(self.record.base):]}")
            return body

    async def run(self):
        try:
            pl = parse_media_playlist((await self.get(self.url)).decode())
            await self.start(pl)
            while time.monotonic() < self.deadline and not pl.ended:
                pl = await self.reload(pl)
        except LoadError as e:
            self.record.errors.append(str(e))
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            if time.monotonic() < self.deadline:
                self.record.errors.append(f"{type(e).__name__}: {e}")
        return self.record

    async def start(self, pl):
        self.note_playlist(pl)
        await self.fetch_map(pl)
        if pl.segments:
            await self.get(resolve(self.url, pl.segments[-1][1]))
        # Play from the newest part listed, as a player at the live edge does.
        if pl.parts:
            await self.fetch_part(*pl.parts[-1], timed=False)

    async def reload(self, pl):
        msn, index = pl.next_position
        hint = None
        if pl.hint_uri and pl.hint_uri not in self.fetched:
            hint = (pl.hint_uri, asyncio.ensure_future(self.timed_get(resolve(self.url, pl.hint_uri))))
        try:
            return await self.reload_with_hint(pl, msn, index, hint)
        finally:
            if hint and not hint[1].done():
                hint[1].cancel()
            elif hint and not hint[1].cancelled():
                hint[1].exception()  # retrieved: the player's error is the one raised

    async def reload_with_hint(self, pl, msn, index, hint):
        query = f"?_HLS_msn={msn}&_HLS_part={index}" + ("&_HLS_skip=YES" if self.skip and pl.can_skip else "")
        new = parse_media_playlist((await self.get(self.url + query)).decode())
        if not new.ended and new.next_position <= (msn, index):
            self.record.stale.append(f"asked for part {msn}.{index}, got a playlist ending before it "
                                     f"(next {new.next_position})")
        self.note_playlist(new)
        await self.fetch_map(new)
        last = self.record.parts[-1] if self.record.parts else (-1, -1)
        for position, uri in new.parts:
            if position <= last:
                continue
            if hint and uri == hint[0]:
                arrived = await hint[1]
                self.note_part(position, uri, arrived)
                hint = None
            else:
                await self.fetch_part(position, uri)
        if hint:
            # Hinted but not yet listed (a playlist raced ahead of it): keep the fetch.
            await hint[1]
            self.fetched.add(hint[0])
        return new

    async def timed_get(self, url):
        await self.get(url)
        return time.monotonic()

    async def fetch_part(self, position, uri, timed=True):
        arrived = await self.timed_get(resolve(self.url, uri))
        self.note_part(position, uri, arrived if timed else None)

    def note_part(self, position, uri, arrived):
        """`arrived` None for the part a player starts on: it was made before the
        player came, so its arrival says nothing about the latency of the path."""
        self.fetched.add(uri)
        self.record.parts.append(position)
        if arrived is not None:
            self.record.arrivals[position] = arrived

    async def fetch_map(self, pl):
        if pl.map_uri and pl.map_uri not in self.maps:
            self.maps.add(pl.map_uri)
            await self.get(resolve(self.url, pl.map_uri))

    def note_playlist(self, pl):
        self.record.media_sequences.append(pl.media_sequence)
        self.record.parts_per_segment.update(pl.parts_per_segment)


class LoadError(Exception):
    pass


def check(record):
    """The failures of one player's record, as text."""
    failures = [f"error: {e}" for e in record.errors] + [f"stale: {s}" for s in record.stale]
    seqs = record.media_sequences
    for a, b in zip(seqs, seqs[1:]):
        if b < a:
            failures.append(f"media sequence went back from {a} to {b}")
            break
    parts = record.parts
    for a, b in zip(parts, parts[1:]):
        following = b == (a[0], a[1] + 1) or (
            b == (a[0] + 1, 0) and record.parts_per_segment.get(a[0]) == a[1] + 1)
        if not following:
            failures.append(f"part {b[0]}.{b[1]} fetched after {a[0]}.{a[1]} (skipped or out of order)")
            break
    return failures


async def play(bases, clients, seconds, skip_delta=True, ramp_s=1.0, reference=None):
    """Runs `clients` players spread over `bases` (player i on bases[i % len],
    rendition i % variants) for `seconds`; returns their records. `reference`, a
    base URL, adds one more player per rendition there (the origin) whose part
    arrival times are the baseline for latency()."""
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async with session.get(bases[0] + "/live/master.m3u8") as r:
            master = (await r.text())
            if r.status != 200:
                raise LoadError(f"master playlist: {r.status}")
        variants = master_variants(master)
        if not variants:
            raise LoadError("no variant in the master playlist")

        def playlist(base, i):
            return resolve(base + "/live/master.m3u8", variants[i % len(variants)])

        players = []
        if reference:
            players += [Player(session, reference, playlist(reference, i), False, deadline)
                        for i in range(len(variants))]
        for i in range(clients):
            base = bases[i % len(bases)]
            # Every other player on a node asks for delta playlists.
            players.append(Player(session, base, playlist(base, i // len(bases)),
                                  skip_delta and (i // len(bases)) % 2 == 1, deadline))

        async def started(player, delay):
            await asyncio.sleep(delay)
            return await player.run()

        n = len(players)
        records = await asyncio.gather(*(started(p, ramp_s * i / n) for i, p in enumerate(players)))
    if reference:
        return records[len(variants):], records[:len(variants)]
    return records, []


def latency(records, references):
    """Seconds each part arrived at a player after it arrived at the reference
    player of its rendition: [float]."""
    baseline = {r.rendition: r.arrivals for r in references}
    out = []
    for r in records:
        ref = baseline.get(r.rendition, {})
        out += [t - ref[pos] for pos, t in r.arrivals.items() if pos in ref]
    return out


def percentile(values, p):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def failure_kind(text):
    """A failure without its numbers, to count alike failures together."""
    return re.sub(r"\d+(\.\d+)*", "N", text)[:80]


def summary(records, references=()):
    failures, kinds = {}, {}
    for i, r in enumerate(records):
        f = check(r)
        if f:
            failures[f"{i} {r.base}{r.rendition}"] = f[:3]
            kind = failure_kind(f[0])
            kinds[kind] = kinds.get(kind, 0) + 1
    added = latency(records, references) if references else []
    return {
        "players": len(records),
        "requests": sum(r.requests for r in records),
        "parts": sum(len(r.parts) for r in records),
        "min_parts": min((len(r.parts) for r in records), default=0),
        "players_failed": len(failures),
        "failures": dict(list(failures.items())[:10]),
        "failure_kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1])[:5]),
        "added_p50_ms": None if not added else round(1000 * percentile(added, 50), 1),
        "added_p99_ms": None if not added else round(1000 * percentile(added, 99), 1),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", action="append", required=True, help="base URL of a cache node or the relay")
    p.add_argument("--clients", type=int, default=100)
    p.add_argument("--seconds", type=float, default=12)
    p.add_argument("--ramp", type=float, default=1.0, help="seconds over which the players start")
    p.add_argument("--reference", help="base URL of the origin: one player per rendition there sets the "
                                       "baseline of the latency figures")
    p.add_argument("--latency-out", help="file to write every part's added latency to (JSON list of seconds)")
    a = p.parse_args()
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    records, refs = asyncio.run(play(a.base, a.clients, a.seconds, ramp_s=a.ramp, reference=a.reference))
    out = summary(records, refs)
    if a.latency_out:
        with open(a.latency_out, "w") as f:
            json.dump(latency(records, refs), f)
    print(json.dumps(out))
    sys.exit(1 if out["players_failed"] else 0)


if __name__ == "__main__":
    main()
