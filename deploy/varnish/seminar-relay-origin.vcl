# The relay this cache node serves (its edge.listen address). The only part of
# the Varnish configuration an operator edits; seminar-relay.vcl includes it.
# The fetch timeouts are set in seminar-relay.vcl, above the relay's hold of a
# blocking request.
vcl 4.1;

backend relay_origin {
    .host = "127.0.0.1";
    .port = "8080";
    .connect_timeout = 2s;
}
