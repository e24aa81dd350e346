"""Varnish as the cache tier: two varnish nodes with the shipped configuration
(deploy/varnish) in front of one relay. Through a node the LL-HLS directives are the
whole of the query's part of the key, a part is a HIT with the relay's
Cache-Control, pages keep their security headers, the API and the Q&A WebSocket
pass uncached. Then 100 and 300 simulated LL-HLS players (llhls_load.py) over the
two nodes: every player sees every part in order and never a stale playlist, each
node asks the relay once per object (counted from varnish's own log), and the
relay's request rate does not grow with the players'. Shared body in
cache_nodes.py."""
from cache_nodes import VarnishNode, run_cache_test
from relay_harness import parse_args

if __name__ == "__main__":
    run_cache_test(VarnishNode, parse_args())
