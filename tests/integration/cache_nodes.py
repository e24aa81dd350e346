"""Real HTTP cache nodes (Varnish, nginx) in front of a relay, with the shipped
configurations in deploy/, each started as a child process on a free loopback
port with its own temporary folder, and stopped on exit.

Each node also counts the requests it sent to the origin with the cache's own
tools: varnishncsa -b (Varnish's backend-side request log) for Varnish, the
shipped log format's origin= field ($upstream_addr) for nginx. origin_requests()
gives those lines as (normalised URL, status).

Also the shared body of test_cache_varnish.py and test_cache_nginx.py.
"""
import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter

from relay_harness import free_port


class CacheNode:
    """Base: a started process, its port and its origin-request log."""

    kind = "cache"

    def __init__(self, origin_port, source_dir):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix=f"relay-{self.kind}-")
        self.deploy = os.path.join(source_dir, "deploy", self.kind)
        self.procs = []
        self.origin_port = origin_port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def spawn(self, cmd, **kw):
        proc = subprocess.Popen(cmd, **kw)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs = []
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_ready(self, timeout=20):
        import http.client
        deadline = time.time() + timeout
        while time.time() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise AssertionError(f"{self.kind} exited ({proc.returncode}): {self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/health")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.kind} on port {self.port} did not answer within {timeout} s: {self.log_tail()}")

    def log_tail(self):
        return ""

    def origin_lines(self):
        raise NotImplementedError

    def origin_requests(self):
        """[(url, status)] of every request this node sent to the origin so far."""
        return [tuple(line.rsplit(" ", 1)) for line in self.origin_lines() if " " in line]

    def settled_origin_requests(self, quiet_s=0.3, timeout=10):
        """origin_requests() once the log has not grown for `quiet_s` (the log is
        written by another process, a moment after the response)."""
        last, stable_since, deadline = None, time.monotonic(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.origin_requests()
            if last is None or len(now) != len(last):
                last, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= quiet_s:
                break
            time.sleep(0.05)
        return last


class VarnishNode(CacheNode):
    """varnishd with deploy/varnish/seminar-relay.vcl; the origin's address in a
    seminar-relay-origin.vcl of its own, found first on vcl_path."""

    kind = "varnish"

    def __init__(self, origin_port, source_dir):
        super().__init__(origin_port, source_dir)
        with open(os.path.join(self.dir, "seminar-relay-origin.vcl"), "w") as f:
            f.write('vcl 4.1;\nbackend relay_origin {\n    .host = "127.0.0.1";\n'
                    f'    .port = "{origin_port}";\n    .connect_timeout = 2s;\n}}\n')
        self.name = os.path.join(self.dir, "n")
        self.backend_log = os.path.join(self.dir, "backend.log")
        self.stderr = open(os.path.join(self.dir, "varnishd.log"), "w")
        # -F: stays in the foreground as the test's child; -j none: no jail, so
        # it runs as whoever runs the test.
        self.spawn(["varnishd", "-F", "-j", "none", "-a", f"127.0.0.1:{self.port}",
                    "-f", os.path.join(self.deploy, "seminar-relay.vcl"),
                    "-p", f"vcl_path={self.dir}:{self.deploy}", "-n", self.name, "-s", "malloc,256m",
                    "-p", "thread_pool_min=50"],
                   stdout=self.stderr, stderr=subprocess.STDOUT)
        self.wait_for_shm()
        self.spawn(["varnishncsa", "-b", "-n", self.name, "-F", "%U%q %s", "-w", self.backend_log])
        self.wait_ready()

    def wait_for_shm(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if subprocess.run(["varnishadm", "-n", self.name, "ping"], capture_output=True).returncode == 0:
                return
            if self.procs[0].poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"varnishd did not start: {self.log_tail()}")

    def log_tail(self):
        self.stderr.flush()
        with open(self.stderr.name, errors="replace") as f:
            return f.read()[-2000:]

    def origin_lines(self):
        if not os.path.exists(self.backend_log):
            return []
        with open(self.backend_log, errors="replace") as f:
            return f.read().splitlines()

    def counters(self):
        """varnishstat's MAIN.cache_hit and MAIN.cache_miss, as Prometheus would scrape them."""
        out = subprocess.run(["varnishstat", "-n", self.name, "-1", "-f", "MAIN.cache_hit", "-f", "MAIN.cache_miss"],
                             capture_output=True, text=True, timeout=10).stdout
        return {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if line.strip()}


class NginxNode(CacheNode):
    """nginx with deploy/nginx/seminar-relay-cache.conf (http{}) and
    seminar-relay-cache-locations.conf (server{}), wrapped as
    deploy/nginx/example-site.conf does, with paths in the node's folder."""

    kind = "nginx"

    def __init__(self, origin_port, source_dir):
        super().__init__(origin_port, source_dir)
        d = self.dir
        self.access_log = os.path.join(d, "access.log")
        self.error_log = os.path.join(d, "error.log")
        conf = os.path.join(d, "nginx.conf")
        temp = "".join(f"  {kind}_temp_path {d}/{kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # Run as root (a CI container), nginx's workers would switch to "nobody"
        # and could not write this root-owned temporary folder.
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(f"""daemon off;
{user}pid {d}/nginx.pid;
error_log {self.error_log} notice;
worker_processes 1;
events {{ worker_connections 8192; }}
http {{
{temp}  include {self.deploy}/seminar-relay-cache.conf;
  proxy_cache_path {d}/cache levels=1:2 keys_zone=seminar_relay:10m max_size=256m use_temp_path=off;
  upstream seminar_relay_origin {{ server 127.0.0.1:{origin_port}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{self.port};
    access_log {self.access_log} seminar_relay_cache;
    include {self.deploy}/seminar-relay-cache-locations.conf;
  }}
}}
""")
        self.spawn(["nginx", "-p", d, "-c", conf, "-e", self.error_log],
                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.wait_ready()

    def log_tail(self):
        if not os.path.exists(self.error_log):
            return ""
        with open(self.error_log, errors="replace") as f:
            return f.read()[-2000:]

    def access_lines(self):
        if not os.path.exists(self.access_log):
            return []
        with open(self.access_log, errors="replace") as f:
            return f.read().splitlines()

    def origin_lines(self):
        # '... "GET /live/a/index.m3u8?_HLS_msn=9&_HLS_part=1" 200 ... origin=127.0.0.1:8080 origin_status=200 ...'
        out = []
        for line in self.access_lines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f and not f.startswith('"'))
            if fields.get("origin", "-") == "-":
                continue
            url = line.split('"')[1].split(" ", 1)[1]
            out.append(f"{url} {fields.get('origin_status', '-')}")
        return out

    def lock_waits(self):
        """Seconds each request that waited on the cache lock took: the HITs that
        were not answered at once."""
        waits = []
        for line in self.access_lines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f and not f.startswith('"'))
            if fields.get("cache") == "HIT" and float(fields.get("total_s", 0)) > 0.05:
                waits.append(float(fields["total_s"]))
        return waits


def object_counts(requests):
    """Counter of origin requests per object, and the count of requests for
    non-blocking playlists (a plain .m3u8 request: its lifetime is half a target
    duration, so it is asked again whenever a player starts after it expired)."""
    objects, plain_playlists = Counter(), 0
    for url, _status in requests:
        if url.split("?")[0].endswith(".m3u8") and "_HLS_msn=" not in url:
            plain_playlists += 1
        else:
            objects[url] += 1
    return objects, plain_playlists


def run_cache_test(node_class, args):
    """The integration test of one cache: two nodes in front of one relay (LIGHT
    ladder, LL-HLS on), the configuration's single-request behaviours, then 100
    and 300 simulated LL-HLS players spread over the nodes."""
    import llhls_load
    from qa_harness import connect, new_attendee
    from relay_harness import LIGHT, Checks, Relay, raise_fd_limit

    raise_fd_limit(8192)
    c = Checks()
    seconds = float(os.environ.get("CACHE_TEST_SECONDS", 12))
    # The nodes (127.0.0.1) are the relay's trusted proxies, and an address may
    # make 3 attendee identities: check_forwarded_for tells clients apart by them.
    overrides = LIGHT + ["log.level=info", 'edge.trusted_proxies=["127.0.0.1"]', "qa.attendees_per_minute=0.01",
                         "qa.attendee_burst=3"]
    with Relay(args.binary, args.source_dir, overrides) as relay:
        relay.wait_for_segments("360p", 2)
        nodes = [node_class(relay.port, args.source_dir), None]
        try:
            nodes[1] = node_class(relay.port, args.source_dir)
            check_single_requests(c, relay, nodes[0], connect, new_attendee)
            rates = {}
            for clients in (100, 300):
                rates[clients] = check_load(c, nodes, clients, seconds, llhls_load)
            # The origin's load does not grow with the audience behind the caches.
            r100, r300 = rates[100], rates[300]
            # The players' own rate is bounded by the Python client on a shared
            # machine: the point is that the load on the nodes grew a lot.
            c.check(r300["client_rate"] >= 1.8 * r100["client_rate"],
                    f"the players' request rate grew with their number ({r100['client_rate']:.0f}/s -> {r300['client_rate']:.0f}/s)")
            ratio = r300["origin_rate"] / r100["origin_rate"] if r100["origin_rate"] else float("inf")
            print(f"origin requests/s per node: 100 players {r100['origin_rate']:.1f}, "
                  f"300 players {r300['origin_rate']:.1f} (ratio {ratio:.2f})", flush=True)
            c.check(0.75 <= ratio <= 1.33, f"origin requests/s with 300 players within a third of that with 100 "
                                           f"({ratio:.2f})")
            if node_class is NginxNode:
                waits = sorted(nodes[0].lock_waits() + nodes[1].lock_waits())
                if waits:
                    print(f"nginx lock waiters: {len(waits)}, wait p50 {waits[len(waits) // 2]:.3f} s, "
                          f"p90 {waits[int(len(waits) * 0.9)]:.3f} s (nginx polls the lock every 500 ms)",
                          flush=True)
            if node_class is VarnishNode:
                print(f"varnishstat: {[n.counters() for n in nodes]}", flush=True)
        finally:
            for n in nodes:
                if n:
                    n.stop()
    c.finish()


def check_single_requests(c, relay, node, connect, new_attendee):
    """One node, one request at a time: the key, the headers, what passes."""
    import http.client
    import llhls_load

    def get(port, path, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    kind = node.kind
    # The key: the delivery directives in any order, other parameters dropped.
    def listed_parts():
        status, _, body = get(node.port, "/live/360p/index.m3u8")
        pl = llhls_load.parse_media_playlist(body.decode()) if status == 200 else None
        return pl if pl and pl.parts else None
    pl = relay.wait_for(listed_parts, 20, f"a playlist with parts through {kind}")
    msn, part = pl.parts[-1][0]
    before = len(node.settled_origin_requests())
    first = get(node.port, f"/live/360p/index.m3u8?_HLS_part={part}&_HLS_msn={msn}&utm=a")
    second = get(node.port, f"/live/360p/index.m3u8?_HLS_msn={msn}&x=1&_HLS_part={part}")
    c.check(first[0] == 200 and second[0] == 200, f"{kind}: blocking playlist requests answered")
    c.check(second[1].get("x-cache") == "HIT",
            f"{kind}: the same directives in another order with other parameters are a HIT "
            f"(X-Cache {second[1].get('x-cache')})")
    asked = node.settled_origin_requests()[before:]
    c.check([u for u, _ in asked] == [f"/live/360p/index.m3u8?_HLS_msn={msn}&_HLS_part={part}"],
            f"{kind}: the origin was asked once, with only _HLS_msn and _HLS_part in order: {asked}")
    check_refused_then_collapsed(c, relay, node, pl, get)
    # Age and the cache status on a media object.
    uri = llhls_load.resolve(node.base + "/live/360p/index.m3u8", pl.parts[-1][1])[len(node.base):]
    get(node.port, uri)
    time.sleep(1.1)
    status, headers, _ = get(node.port, uri)
    c.check(status == 200 and headers.get("x-cache") == "HIT", f"{kind}: a part asked twice is a HIT: {headers}")
    if kind == "varnish":
        c.check(int(headers.get("age", "0")) >= 1, f"{kind}: Age shows the part's time in the cache: {headers}")
    direct = relay.request(uri)[1]
    c.check(headers.get("cache-control") == direct.get("cache-control"),
            f"{kind}: the relay's Cache-Control passes through ({headers.get('cache-control')})")
    # The relay's security headers on a page pass through untouched.
    _, page, _ = get(node.port, "/")
    _, page_direct, _ = relay.request("/")
    for h in ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options"):
        c.check(page.get(h) == page_direct.get(h), f"{kind}: {h} passes through ({page.get(h)!r})")
    # The API is never cached: both requests reach the relay.
    before = len(node.settled_origin_requests())
    get(node.port, "/api/health")
    get(node.port, "/api/health")
    health = [u for u, _ in node.settled_origin_requests()[before:] if u.startswith("/api/health")]
    c.check(len(health) == 2, f"{kind}: /api/health reaches the relay every time ({len(health)} of 2)")
    check_forwarded_for(c, node)
    # The Q&A WebSocket works through the node (POST passes, the upgrade is piped).
    try:
        attendee, _ = new_attendee(node.port)
        ws = connect(node.port, attendee.token)
        message = ws.recv(timeout=10)
        ws.close()
        c.check(bool(message), f"{kind}: the Q&A WebSocket answers through the node")
    except Exception as e:  # noqa: BLE001 - any failure here is the check's failure
        c.check(False, f"{kind}: the Q&A WebSocket through the node: {type(e).__name__}: {e}")


def check_forwarded_for(c, node):
    """The node names the client in X-Forwarded-For, so the relay (the node in its
    edge.trusted_proxies) keeps its per-client limits per viewer: a client
    (127.0.0.2) that used up its attendee identities is refused, and another
    (127.0.0.3) behind the same node is not."""
    import http.client

    def new_identity(source):
        conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10, source_address=(source, 0))
        try:
            conn.request("POST", "/api/qa/attendees", body=b'{"name":""}',
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            return r.status
        finally:
            conn.close()
    first = [new_identity("127.0.0.2") for _ in range(4)]
    other = new_identity("127.0.0.3")
    c.check(first[:3] == [201] * 3 and first[3] == 429 and other == 201,
            f"{node.kind}: the relay tells viewers behind the node apart by X-Forwarded-For "
            f"(127.0.0.2: {first}, then 127.0.0.3: {other})")


def check_refused_then_collapsed(c, relay, node, pl, get):
    """A URL the relay refused a moment ago (400: a blocking request too far
    ahead, answered no-store) is collapsed again once it can be answered: 30
    players asking at once cost the relay one request. Varnish's built-in rules
    would have made it hit-for-miss for 120 s, each of the 30 going to the relay."""
    import aiohttp
    kind = node.kind
    ahead = pl.next_position[0] + 3    # 3 beyond the segment being made: too far to wait for
    url = f"/live/360p/index.m3u8?_HLS_msn={ahead}&_HLS_part=0"
    status = get(node.port, url)[0]
    c.check(status == 400, f"{kind}: a blocking request 3 segments ahead is refused at once ({status})")
    relay.wait_for(lambda: relay.newest_msn("360p") >= ahead - 2, 20, f"segment {ahead - 2}")
    before = len(node.settled_origin_requests())

    async def many():
        async with aiohttp.ClientSession() as session:
            async def one():
                async with session.get(node.base + url) as r:
                    await r.read()
                    return r.status
            return await asyncio.gather(*(one() for _ in range(30)))
    statuses = asyncio.run(many())
    asked = [u for u, _ in node.settled_origin_requests()[before:] if u == url]
    c.check(statuses == [200] * 30, f"{kind}: the 30 held requests were answered 200 ({Counter(statuses)})")
    c.check(len(asked) == 1, f"{kind}: 30 players asking a URL refused a moment ago cost the relay "
                             f"{len(asked)} request(s) (1 expected)")


def check_load(c, nodes, clients, seconds, llhls_load):
    """`clients` players over the nodes for `seconds`: every player saw every part
    in order with no stale playlist, and each node asked the origin once per object."""
    kind = nodes[0].kind
    before = [len(n.settled_origin_requests()) for n in nodes]
    started = time.monotonic()
    records, _ = asyncio.run(llhls_load.play([n.base for n in nodes], clients, seconds))
    elapsed = time.monotonic() - started
    # Held requests the players left still end at the origin; let the logs settle.
    time.sleep(1.0)
    summary = llhls_load.summary(records)
    print(f"{kind}, {clients} players: {summary}", flush=True)
    c.check(summary["players_failed"] == 0,
            f"{kind}, {clients} players: every player saw every part in order, no stale playlist, no error "
            f"({summary['players_failed']} failed: {summary['failures']})")
    c.check(summary["min_parts"] >= seconds, f"{kind}, {clients} players: every player fetched parts all along "
                                             f"(fewest {summary['min_parts']})")
    origin_total = 0
    for i, node in enumerate(nodes):
        requests = node.settled_origin_requests()[before[i]:]
        origin_total += len(requests)
        objects, plain = object_counts(requests)
        repeated = {u: n for u, n in objects.items() if n > 1}
        print(f"{kind} node {i}, {clients} players: {len(requests)} origin requests, {len(objects)} objects, "
              f"{plain} plain playlist requests, asked more than once: {repeated}", flush=True)
        # "± retries": a request whose answer the relay said not to keep (a hinted
        # part's 503) is asked again; allow 2 such objects, none asked 3 times.
        c.check(len(objects) > 0 and len(repeated) <= 2 and max(objects.values(), default=0) <= 2,
                f"{kind} node {i}, {clients} players: the origin was asked once per object "
                f"({len(repeated)} objects more than once: {dict(list(repeated.items())[:5])})")
        c.check(plain <= 3 * (seconds + 2),
                f"{kind} node {i}, {clients} players: plain playlist requests bounded by their lifetime ({plain})")
    return {"origin_rate": origin_total / len(nodes) / elapsed,
            "client_rate": summary["requests"] / elapsed}
