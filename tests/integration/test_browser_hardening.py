"""Browser hardening (issue 16 item 6) on the real binary, with HTTPS configured
and the plain port left at its default (redirect): every plain request gets a
308 to the same target on the HTTPS port, and no Strict-Transport-Security;
HTTPS responses carry HSTS, X-Content-Type-Options and Referrer-Policy, pages
and APIs the Content-Security-Policy, media not; the Q&A API and the player
reports refuse bodies that are not JSON (415); a WebSocket upgrade from another
site's page is refused (403) while the relay's own origin is let through; the
Q&A WebSocket sends nothing before its first message brings a token, refuses a
bad one (4003), ignores a token in the URL and closes a client that sends none
in time; technician tokens are not taken from the query; dotfiles and backup
files in web_dir are not served."""
import asyncio
import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile

import websockets

from relay_harness import LIGHT, Checks, Relay, free_port, parse_args

MODERATOR = "moderator-token-hardening-0123"
TECHNICIAN = "technician-token-hardening-0123"


def make_certificate(folder):
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def request(conn, method, path, body=None, headers=None):
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def plain(port, method, path, **kw):
    return request(http.client.HTTPConnection("127.0.0.1", port, timeout=10), method, path, **kw)


def secure(port, method, path, **kw):
    return request(http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=tls_context()), method, path,
                   **kw)


def check_redirect(c, relay, tls_port):
    for path in ("/", "/moderator", "/api/qa/rooms?x=1", "/live/master.m3u8"):
        status, headers, _ = plain(relay.port, "GET", path, headers={"Host": f"relay.example.org:{relay.port}"})
        want = f"https://relay.example.org:{tls_port}{path}"
        c.check(status == 308 and headers.get("location") == want,
                f"plain GET {path}: 308 to {want} ({status} {headers.get('location')})")
        c.check("strict-transport-security" not in headers, f"plain GET {path}: no HSTS over plain HTTP")
    status, headers, _ = plain(relay.port, "POST", "/api/qa/attendees", body=b"{}",
                               headers={"Content-Type": "application/json"})
    c.check(status == 308, f"a plain POST is redirected too, keeping its method (308) ({status})")


def check_headers(c, tls_port):
    for path in ("/", "/moderator", "/speaker", "/tech", "/static/style.css", "/api/qa/rooms", "/api/health"):
        status, headers, _ = secure(tls_port, "GET", path)
        csp = headers.get("content-security-policy", "")
        c.check(status == 200, f"GET {path} over HTTPS: 200 ({status})")
        c.check("default-src 'self'" in csp and "frame-ancestors 'self'" in csp and "unsafe-inline" not in csp,
                f"GET {path}: Content-Security-Policy ({csp!r})")
        c.check(headers.get("x-content-type-options") == "nosniff", f"GET {path}: nosniff")
        c.check(headers.get("referrer-policy") == "no-referrer", f"GET {path}: Referrer-Policy")
        c.check(headers.get("strict-transport-security") == "max-age=31536000", f"GET {path}: HSTS")
    _, headers, _ = secure(tls_port, "GET", "/live/master.m3u8")
    c.check("content-security-policy" not in headers and headers.get("x-content-type-options") == "nosniff"
            and headers.get("strict-transport-security"), f"media: nosniff and HSTS, no CSP ({headers})")


def check_json_only(c, tls_port):
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        status, _, body = secure(tls_port, "POST", "/api/qa/attendees", body=b'{"name":"x"}',
                                 headers={"Content-Type": ctype})
        c.check(status == 415 and json.loads(body)["error"] == "unsupported_media_type",
                f"POST /api/qa/attendees as {ctype}: 415 ({status} {body[:80]!r})")
    status, _, _ = secure(tls_port, "POST", "/api/qa/attendees", body=b'{"name":"x"}',
                          headers={"Content-Type": "application/json"})
    c.check(status == 201, f"POST /api/qa/attendees as JSON: 201 ({status})")
    report = json.dumps({"session": "hardening-session-1", "latency_s": 2}).encode()
    status, _, _ = secure(tls_port, "POST", "/api/qoe", body=report, headers={"Content-Type": "text/plain;charset=UTF-8"})
    c.check(status == 415, f"a QoE report as text/plain (sendBeacon with a string): 415 ({status})")
    status, _, _ = secure(tls_port, "POST", "/api/qoe", body=report, headers={"Content-Type": "application/json"})
    c.check(status == 204, f"a QoE report as JSON: 204 ({status})")


def check_tech_token(c, tls_port):
    status, _, _ = secure(tls_port, "GET", f"/api/incidents?token={TECHNICIAN}")
    c.check(status == 401, f"a technician token in the query is not taken ({status})")
    status, _, _ = secure(tls_port, "GET", "/api/incidents", headers={"Authorization": f"Bearer {TECHNICIAN}"})
    c.check(status == 200, f"a technician token in Authorization is ({status})")


async def recv_or_close(ws, seconds):
    """The next message, ("closed", code), or None when nothing comes within `seconds`."""
    try:
        return await asyncio.wait_for(ws.recv(), seconds)
    except websockets.ConnectionClosed as e:
        return ("closed", e.rcvd.code if e.rcvd else e.code)
    except asyncio.TimeoutError:
        return None


async def check_websocket(c, tls_port):
    url = f"wss://127.0.0.1:{tls_port}/api/qa/ws?room=current"
    own = f"https://127.0.0.1:{tls_port}"

    def connect(origin, query=""):
        return websockets.connect(url + query, ssl=tls_context(), origin=origin, open_timeout=10, ping_interval=None)

    for origin in ("https://evil.example", f"http://127.0.0.1:{tls_port}", "null"):
        try:
            ws = await connect(origin)
            await ws.close()
            c.check(False, f"a WebSocket from {origin} is refused")
        except websockets.InvalidStatusCode as e:
            c.check(e.status_code == 403, f"a WebSocket from {origin}: 403 ({e.status_code})")

    # A token in the URL opens nothing; a client that never signs in is closed at the deadline.
    silent = await connect(own, f"&token={MODERATOR}")
    ws = await connect(own)
    got = await recv_or_close(ws, 1)
    c.check(got is None, f"nothing of the room before the first message ({got!r})")
    await ws.send(json.dumps({"type": "auth", "token": MODERATOR}))
    got = await recv_or_close(ws, 5)
    first = json.loads(got) if isinstance(got, str) else None
    c.check(first is not None and (first[0] if isinstance(first, list) else first).get("type") == "snapshot",
            f"the moderator's first message brings the snapshot ({str(got)[:80]})")
    await ws.close()

    bad = await connect(None)  # no Origin: a program, not a page
    await bad.send(json.dumps({"type": "auth", "token": "not-a-token-0123456789"}))
    got = await recv_or_close(bad, 5)
    c.check(got == ("closed", 4003), f"a bad token in the first message: closed with 4003 ({got!r})")

    got = await recv_or_close(silent, 8)
    c.check(got == ("closed", 1008), f"a client without a first message is closed with 1008 ({got!r})")


def check_hidden_files(c, tls_port):
    for path in ("/static/.env", "/static/.git/config", "/static/index.html~", "/static/player.js.bak",
                 "/static/style.css.swp"):
        status, _, body = secure(tls_port, "GET", path)
        c.check(status == 404 and b"SECRET" not in body, f"GET {path}: 404 ({status})")
    status, _, _ = secure(tls_port, "GET", "/static/player.js")
    c.check(status == 200, f"GET /static/player.js: 200 ({status})")


def main():
    args = parse_args()
    c = Checks()
    tmp = tempfile.mkdtemp(prefix="relay-hardening-")
    try:
        cert, key = make_certificate(tmp)
        web = os.path.join(tmp, "web")
        shutil.copytree(os.path.join(args.source_dir, "web"), web)
        os.makedirs(os.path.join(web, ".git"))
        for name in (".env", ".git/config", "index.html~", "player.js.bak", "style.css.swp"):
            with open(os.path.join(web, name), "w") as f:
                f.write("SECRET=1\n")
        tls_port = free_port()
        overrides = LIGHT + [f"edge.tls_listen=127.0.0.1:{tls_port}", f"edge.tls_cert_file={cert}",
                             f"edge.tls_key_file={key}", f"edge.web_dir={web}",
                             f'qa.moderator_tokens=["{MODERATOR}"]', f'qa.technician_tokens=["{TECHNICIAN}"]']
        with Relay(args.binary, args.source_dir, overrides) as relay:
            relay.wait_for(lambda: secure(tls_port, "GET", "/api/qa/rooms")[0] == 200, 30, "the HTTPS port")
            check_redirect(c, relay, tls_port)
            check_headers(c, tls_port)
            check_json_only(c, tls_port)
            check_tech_token(c, tls_port)
            asyncio.run(check_websocket(c, tls_port))
            check_hidden_files(c, tls_port)
            log = relay.log_text()
            c.check(MODERATOR not in log and TECHNICIAN not in log, "no token reaches the log")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    main()
