#!/usr/bin/env python3
"""Viewers and pending questions on the real binary. Three fake players fetch
playlists and parts: two send X-Playback-Session-Id (on different renditions) and
show up as one viewer each of their rendition, the third sends none and is not
counted; a player switching renditions counts once; ids expire after
health.viewer_window_s. The CORS preflight allows the header. An attendee's
question in a room without auto-approve raises seminar_relay_qa_pending_questions
and the moderator's approval lowers it again."""
import threading
import time

from prom_format import parse, value
from qa_harness import MODERATOR, QaClient, new_attendee, start_relay
from relay_harness import Checks, ll_parts, parse_args

WINDOW_S = 3


class Player:
    """Fetches a rendition's playlist and its newest part every 0.5 s, like a
    low-latency player, with or without a session id."""

    def __init__(self, relay, rendition, session=None):
        self.relay = relay
        self.rendition = rendition
        self.session = session
        self.requests = 0
        self.errors = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _get(self, path):
        headers = {"X-Playback-Session-Id": self.session} if self.session else {}
        status, _, body = self.relay.request(path, headers=headers)
        self.requests += 1
        if status != 200:
            self.errors.append(f"{status} {path}")
        return body

    def _run(self):
        while not self.stopped.is_set():
            try:
                playlist = self._get(f"/live/{self.rendition}/index.m3u8").decode()
                parts = ll_parts(playlist)
                if parts:
                    self._get(f"/live/{self.rendition}/{parts[-1][4]}")
            except OSError as e:
                self.errors.append(repr(e))
            self.stopped.wait(0.5)

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=10)


def viewers(relay):
    m = parse(relay.get("/metrics").decode())
    return {r: value(m, "seminar_relay_viewers", rendition=r) for r in ("360p", "240p", "180p")}


def pending(relay, room):
    return value(parse(relay.get("/metrics").decode()), "seminar_relay_qa_pending_questions", room=str(room))


def main():
    args = parse_args()
    c = Checks()
    relay = start_relay(args, extra=[f"health.viewer_window_s={WINDOW_S}"])
    players = []
    try:
        relay.wait_for_segments("360p", 2)
        first = viewers(relay)
        c.check(first == {"360p": 0, "240p": 0, "180p": 0}, f"no viewers before any player ({first})")

        players = [Player(relay, "360p", "player-one-360p"), Player(relay, "240p", "player-two-240p"),
                   Player(relay, "180p")]
        relay.wait_for(lambda: (lambda v: v if v["360p"] and v["240p"] else None)(viewers(relay)), 15, "two viewers")
        time.sleep(2)
        seen = viewers(relay)
        c.check(seen == {"360p": 1, "240p": 1, "180p": 0},
                f"one viewer on 360p, one on 240p, none for the player without a session id ({seen})")
        c.check(all(p.requests >= 4 for p in players), f"the players kept asking ({[p.requests for p in players]})")
        c.check(not any(p.errors for p in players), f"the players were served ({[p.errors[:3] for p in players]})")

        # The 240p player switches to 360p: one session, now on 360p.
        players[1].rendition = "360p"
        switched = relay.wait_for(lambda: (lambda v: v if v["240p"] == 0 else None)(viewers(relay)), 10,
                                  "the switch to 360p")
        c.check(switched == {"360p": 2, "240p": 0, "180p": 0}, f"a player that switched counts once ({switched})")

        for p in players:
            p.stop()
        started = time.time()
        gone = relay.wait_for(lambda: (lambda v: v if not any(v.values()) else None)(viewers(relay)),
                              WINDOW_S + 5, "the viewers to expire")
        waited = time.time() - started
        c.check(gone == {"360p": 0, "240p": 0, "180p": 0} and waited >= WINDOW_S - 1,
                f"{WINDOW_S} s after their last request the sessions are gone ({gone} after {waited:.1f} s)")

        status, headers, _ = relay.request("/live/360p/index.m3u8", method="OPTIONS", headers={
            "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-playback-session-id"})
        allowed = [h.strip().lower() for h in headers.get("access-control-allow-headers", "").split(",")]
        c.check(status == 204 and "x-playback-session-id" in allowed,
                f"the CORS preflight allows X-Playback-Session-Id ({status} {allowed})")

        # Questions waiting for the moderator (the room does not approve by itself).
        room = QaClient(relay.port).ok("GET", "/api/qa/rooms")["current_room"]
        c.check(pending(relay, room) == 0, f"no question waits at first ({pending(relay, room)})")
        attendee, _ = new_attendee(relay.port, "Ann")
        asked = [attendee.ok("POST", "/api/qa/rooms/current/questions", {"text": text})["id"]
                 for text in ("How low is the latency?", "Will the slides be shared?")]
        c.check(pending(relay, room) == 2, f"two questions wait for the moderator ({pending(relay, room)})")
        moderator = QaClient(relay.port, MODERATOR)
        moderator.ok("POST", f"/api/qa/questions/{asked[0]}/approve")
        c.check(pending(relay, room) == 1, f"approving one leaves one waiting ({pending(relay, room)})")
        moderator.ok("POST", f"/api/qa/questions/{asked[1]}/reject")
        c.check(pending(relay, room) == 0, f"rejecting the other leaves none ({pending(relay, room)})")
    finally:
        for p in players:
            p.stop()
        relay.stop()
    c.finish()


if __name__ == "__main__":
    main()
