"""Behind a reverse proxy (issue 16 item 5): with edge.trusted_proxies the
per-client limits (here: new Q&A attendee identities) count per address that
X-Forwarded-For names, the right-most one not itself a proxy; a client that is
not a listed proxy cannot pick its address with the header; a listed proxy is
exempt from the per-IP connection cap. Over HTTP/1.1 and HTTP/2 (curl, on the
TLS port). Without trusted_proxies the header is ignored.

Loopback accepts any 127/8 source address: 127.0.0.1 is the proxy, 127.0.0.2
a client connecting directly."""
import http.client
import json
import shutil
import socket
import tempfile

from qa_harness import start_relay
from relay_harness import Checks, free_port, parse_args
from test_edge_tls import Curl, make_certificate

PROXY = "127.0.0.1"
DIRECT = "127.0.0.2"
PER_IP = 3
LIMITS = ["qa.attendee_burst=2", "qa.attendees_per_minute=0.01", f"edge.max_connections_per_ip={PER_IP}"]


def new_attendee(port, source, forwarded_for=None):
    """The status of POST /api/qa/attendees from `source`, with that X-Forwarded-For."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        headers = {"Content-Type": "application/json"}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        conn.request("POST", "/api/qa/attendees", body=json.dumps({"name": ""}), headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def open_connections(port, source, count):
    """`count` connections from `source`, each asking for the rooms; the statuses, in order."""
    socks, statuses = [], []
    try:
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
            socks.append(s)
        for s in socks:
            s.sendall(b"GET /api/qa/rooms HTTP/1.1\r\nHost: relay\r\n\r\n")
            head = s.recv(64)
            statuses.append(int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None)
    finally:
        for s in socks:
            s.close()
    return statuses


def h2_new_attendee(curl, forwarded_for):
    status, version, _, _ = curl.fetch("/api/qa/attendees", extra=(
        "-X", "POST", "-H", "Content-Type: application/json", "-H", f"X-Forwarded-For: {forwarded_for}",
        "--data", '{"name":""}'))
    return status if version == "2" else f"HTTP/{version}"


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="edge-proxy-")
    cert, key = make_certificate(tmp)
    tls_port = free_port()
    tls = [f"edge.tls_listen=127.0.0.1:{tls_port}", f"edge.tls_cert_file={cert}", f"edge.tls_key_file={key}",
           "edge.plain_http=serve"]  # the Q&A checks below use the plain port too
    with start_relay(args, extra=LIMITS + tls + [f'edge.trusted_proxies=["{PROXY}"]']) as relay:
        port = relay.port
        curl = Curl(tls_port, cert, tmp)
        h2 = [h2_new_attendee(curl, "203.0.113.20") for _ in range(3)]
        c.check(h2 == [201, 201, 429], f"HTTP/2: one client through the proxy gets its burst of 2 ({h2})")
        c.check(h2_new_attendee(curl, "203.0.113.21") == 201, "HTTP/2: another client has a limit of its own")

        first = [new_attendee(port, PROXY, "203.0.113.1") for _ in range(3)]
        c.check(first == [201, 201, 429], f"one client through the proxy gets its burst of 2 ({first})")
        c.check(new_attendee(port, PROXY, "203.0.113.2") == 201,
                "another client through the same proxy has a limit of its own")
        c.check(new_attendee(port, PROXY, "198.51.100.7, 203.0.113.1") == 429,
                "an address the client prepended is not believed: the proxy's entry (right-most) counts")
        c.check(new_attendee(port, PROXY, "203.0.113.3, 127.0.0.1") == 201,
                "a listed proxy in the chain is walked past")
        direct = [new_attendee(port, DIRECT, f"203.0.113.{10 + i}") for i in range(3)]
        c.check(direct == [201, 201, 429],
                f"a client that is not a listed proxy counts as itself, whatever it sends ({direct})")

        through_proxy = open_connections(port, PROXY, PER_IP + 2)
        c.check(through_proxy == [200] * (PER_IP + 2),
                f"the proxy is exempt from max_connections_per_ip={PER_IP} ({through_proxy})")
        direct_conns = open_connections(port, DIRECT, PER_IP + 1)
        c.check(direct_conns[:PER_IP] == [200] * PER_IP and direct_conns[PER_IP] == 503,
                f"a client connecting directly keeps the per-IP cap ({direct_conns})")

    with start_relay(args, extra=LIMITS) as relay:
        port = relay.port
        statuses = [new_attendee(port, PROXY, f"203.0.113.{i}") for i in range(1, 4)]
        c.check(statuses == [201, 201, 429],
                f"without trusted_proxies X-Forwarded-For is ignored: one limit for the peer ({statuses})")
    shutil.rmtree(tmp, ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    main()
