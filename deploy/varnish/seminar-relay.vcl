# Varnish (7.1, Debian 12) in front of a seminar-relay origin. docs/scaling.md
# explains each part; in short:
#  - /live/ objects are cached as the relay's Cache-Control says (RFC 8216bis
#    Appendix B lifetimes; media immutable), keyed on the path plus _HLS_msn,
#    _HLS_part and _HLS_skip in a fixed order and nothing else of the query;
#  - identical misses wait on the first one's fetch (Varnish's waiting list), so
#    the relay sees one request per object per cache node. Nothing on /live/
#    becomes hit-for-pass or a long hit-for-miss, which would take requests
#    off the waiting list;
#  - a blocking playlist or hinted-part request is held by the relay for up to
#    3 target durations: the fetch timeouts are above that and nothing retries;
#  - responses stream to every waiting client as their bytes arrive (do_stream);
#  - WebSockets are piped, /api/ and /metrics pass, uncached;
#  - X-Cache (HIT, MISS, PASS) and Age show what the cache did.
#
# Run: varnishd -a :80 -f /etc/varnish/seminar-relay.vcl -s malloc,1g
# with seminar-relay-origin.vcl (the relay's address) beside this file.
vcl 4.1;

import std;

include "seminar-relay-origin.vcl";

sub vcl_recv {
    set req.backend_hint = relay_origin;
    # WebSocket (/api/qa/ws) and event streams: one TCP tunnel per client, so
    # Varnish's fetch timeouts never cut a long-lived connection.
    if (req.http.Upgrade ~ "(?i)websocket" || req.http.Accept ~ "(?i)text/event-stream") {
        return (pipe);
    }
    # The APIs answer per caller (tokens, Q&A state) and the technician's
    # surfaces are private: always the relay's own answer.
    if (req.url ~ "^/api/" || req.url ~ "^/metrics") {
        return (pass);
    }
    if (req.url ~ "^/live/") {
        if (req.method != "GET" && req.method != "HEAD") {
            return (pass);
        }
        call relay_hls_query;
        # Media and playlists are the same for everyone: a cookie a browser sends
        # along must not make every viewer's request a pass.
        unset req.http.Cookie;
        return (hash);
    }
    # Pages and static files: Varnish's built-in rules (cached unless a cookie
    # or Authorization is present, for the relay's own max-age).
}

# Keeps only the LL-HLS delivery directives of the query, in a fixed order, so
# "?_HLS_part=2&_HLS_msn=9" and "?_HLS_msn=9&_HLS_part=2&x=1" are one object and
# one origin request. Anything else (trackers, cache busters) is dropped.
sub relay_hls_query {
    if (req.url !~ "\?") {
        return;
    }
    set req.http.X-Relay-Query = "";
    if (req.url ~ "[?&]_HLS_msn=[^&]") {
        set req.http.X-Relay-Query = req.http.X-Relay-Query + "&_HLS_msn=" +
            regsub(req.url, "^.*[?&]_HLS_msn=([^&]*).*$", "\1");
    }
    if (req.url ~ "[?&]_HLS_part=[^&]") {
        set req.http.X-Relay-Query = req.http.X-Relay-Query + "&_HLS_part=" +
            regsub(req.url, "^.*[?&]_HLS_part=([^&]*).*$", "\1");
    }
    if (req.url ~ "[?&]_HLS_skip=[^&]") {
        set req.http.X-Relay-Query = req.http.X-Relay-Query + "&_HLS_skip=" +
            regsub(req.url, "^.*[?&]_HLS_skip=([^&]*).*$", "\1");
    }
    set req.url = regsub(req.url, "\?.*$", "");
    if (req.http.X-Relay-Query != "") {
        set req.url = req.url + "?" + regsub(req.http.X-Relay-Query, "^&", "");
    }
    unset req.http.X-Relay-Query;
}

sub vcl_hash {
    if (req.url ~ "^/live/") {
        # One cache node serves one relay: the URL alone names the object,
        # whatever host name a viewer used to reach the node.
        hash_data(req.url);
        return (lookup);
    }
}

sub vcl_pipe {
    if (req.http.Upgrade) {
        set bereq.http.Upgrade = req.http.Upgrade;
        set bereq.http.Connection = req.http.Connection;
    }
}

sub vcl_backend_fetch {
    # The relay holds a blocking playlist request, and a request for the hinted
    # part, until it can answer: at most 3 target durations (6 s with the
    # default 2 s segments), then 503. Wait for that answer, never give up
    # first (a retry would only queue behind the same hold).
    set bereq.first_byte_timeout = 30s;
    set bereq.between_bytes_timeout = 10s;
}

sub vcl_backend_response {
    if (bereq.uncacheable) {
        # A pass (/api/, other methods): the relay's answer as it is.
        return (deliver);
    }
    if (bereq.url ~ "^/live/") {
        call relay_live_response;
        return (deliver);
    }
}

sub relay_live_response {
    # Clients waiting on this fetch get the bytes as they arrive.
    set beresp.do_stream = true;
    if (beresp.http.Cache-Control ~ "(?i)(no-store|no-cache|private)") {
        # The relay said not to keep it. Varnish's built-in rule would make the
        # URL hit-for-miss for 120 s, and every request in that time would go
        # to the relay on its own, off the waiting list. One second instead.
        set beresp.ttl = 1s;
        set beresp.grace = 0s;
        set beresp.uncacheable = true;
        return;
    }
    if (beresp.status >= 400 && beresp.http.Cache-Control ~ "(?i)max-age=[0-9]") {
        # Varnish caches few error statuses on its own; the relay gives failed
        # blocking reloads a lifetime (Appendix B: 4 target durations), so one
        # 503 answers every player that asked the same thing.
        set beresp.ttl = std.duration(
            regsub(beresp.http.Cache-Control, "^.*(?i:max-age)=([0-9]+).*$", "\1s"), 1s);
    }
    if (beresp.ttl <= 0s) {
        # No lifetime at all: keep it for the clients already waiting on it.
        set beresp.ttl = 1s;
    }
    if (bereq.url ~ "\.m3u8") {
        # A playlist past its lifetime is stale: never serve it in grace.
        set beresp.grace = 0s;
        set beresp.keep = 0s;
    }
}

sub vcl_deliver {
    if (obj.uncacheable) {
        set resp.http.X-Cache = "PASS";
    } elsif (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
