#include <catch2/catch.hpp>

#include "net/client_address.hpp"

using namespace relay::net;
namespace http = boost::beast::http;

namespace {

const TrustedProxies kProxies({"127.0.0.1", "10.0.0.0/8", "2001:db8:ff::/48"}, ForwardedHeader::x_forwarded_for);

std::string via_xff(std::string_view peer, std::string_view value) {
  return client_from_hops(peer, parse_x_forwarded_for(value), kProxies);
}

std::string via_forwarded(std::string_view peer, std::string_view value) {
  return client_from_hops(peer, parse_forwarded(value), kProxies);
}

Request request_with(std::initializer_list<std::pair<const char*, const char*>> fields) {
  Request req{http::verb::get, "/", 11};
  for (const auto& [name, value] : fields) req.insert(name, value);
  return req;
}

}  // namespace

TEST_CASE("a peer that is not a trusted proxy is the client, whatever it claims", "[client_address]") {
  CHECK(via_xff("198.51.100.7", "203.0.113.1") == "198.51.100.7");
  CHECK(via_forwarded("198.51.100.7", "for=203.0.113.1") == "198.51.100.7");
  const TrustedProxies none;
  CHECK(none.empty());
  CHECK(none.client_of("127.0.0.1", request_with({{"X-Forwarded-For", "203.0.113.1"}})) == "127.0.0.1");
}

TEST_CASE("X-Forwarded-For: the right-most address that is not a trusted proxy", "[client_address]") {
  CHECK(via_xff("127.0.0.1", "203.0.113.1") == "203.0.113.1");
  // A client that writes its own header gets it prepended to, not believed.
  CHECK(via_xff("127.0.0.1", "1.2.3.4, 203.0.113.1") == "203.0.113.1");
  // Proxies in a chain (a CDN, then nginx) are walked past.
  CHECK(via_xff("127.0.0.1", "1.2.3.4, 203.0.113.1, 10.1.2.3") == "203.0.113.1");
  CHECK(via_xff("10.9.9.9", "203.0.113.1,10.1.2.3,127.0.0.1") == "203.0.113.1");
  // Ports and brackets are not part of the address.
  CHECK(via_xff("127.0.0.1", "203.0.113.1:5123") == "203.0.113.1");
  CHECK(via_xff("127.0.0.1", "[2001:db8:1::5]:443") == "2001:db8:1::5");
  CHECK(via_xff("127.0.0.1", "2001:DB8:1::5") == "2001:db8:1::5");
  // IPv4-mapped IPv6 is the IPv4 address, for the peer and for a hop.
  CHECK(via_xff("::ffff:127.0.0.1", "::ffff:203.0.113.1") == "203.0.113.1");
  CHECK(via_xff("127.0.0.1", "::ffff:10.0.0.1") == "10.0.0.1");  // every hop trusted: the furthest one
  // No header, or an empty one: the proxy itself.
  CHECK(via_xff("127.0.0.1", "") == "127.0.0.1");
  CHECK(via_xff("127.0.0.1", " , ,") == "127.0.0.1");
  CHECK(via_xff("2001:db8:ff:1::1", "203.0.113.1") == "203.0.113.1");
}

TEST_CASE("a hop that is not an address stops the walk at the proxy that reported it", "[client_address]") {
  // What the client wrote cannot be told apart from anything further left.
  CHECK(via_xff("127.0.0.1", "203.0.113.1, unknown") == "127.0.0.1");
  CHECK(via_xff("127.0.0.1", "203.0.113.1, garbage<script>") == "127.0.0.1");
  CHECK(via_xff("127.0.0.1", "203.0.113.1, unknown, 10.0.0.1") == "10.0.0.1");
  CHECK(via_xff("127.0.0.1", "203.0.113.1, 999.1.1.1") == "127.0.0.1");
  CHECK(via_xff("127.0.0.1", "203.0.113.1, [203.0.113.9]") == "127.0.0.1");
  CHECK(via_xff("127.0.0.1", "[2001:db8::1") == "127.0.0.1");
  CHECK(via_xff("127.0.0.1", "203.0.113.1:80:80") == "127.0.0.1");
}

TEST_CASE("Forwarded (RFC 7239): for= nodes, quoted IPv6, ports, obfuscated identifiers", "[client_address]") {
  CHECK(via_forwarded("127.0.0.1", "for=203.0.113.1") == "203.0.113.1");
  CHECK(via_forwarded("127.0.0.1", "For=\"203.0.113.1:4711\";proto=https;by=10.0.0.1") == "203.0.113.1");
  CHECK(via_forwarded("127.0.0.1", "for=\"[2001:db8:cafe::17]:4711\"") == "2001:db8:cafe::17");
  CHECK(via_forwarded("127.0.0.1", "for=\"[2001:db8:cafe::17]\"") == "2001:db8:cafe::17");
  CHECK(via_forwarded("127.0.0.1", "proto=http;for=192.0.2.60;by=203.0.113.43") == "192.0.2.60");
  CHECK(via_forwarded("127.0.0.1", "for=1.2.3.4, for=203.0.113.1") == "203.0.113.1");
  CHECK(via_forwarded("127.0.0.1", "for=203.0.113.1, for=10.0.0.5;proto=https") == "203.0.113.1");
  // Unquoted IPv6 is not valid RFC 7239.
  CHECK(via_forwarded("127.0.0.1", "for=2001:db8::1") == "127.0.0.1");
  // "unknown", an obfuscated name, an element without for=: nobody to count but the proxy.
  CHECK(via_forwarded("127.0.0.1", "for=203.0.113.1, for=unknown") == "127.0.0.1");
  CHECK(via_forwarded("127.0.0.1", "for=203.0.113.1, for=_hidden") == "127.0.0.1");
  CHECK(via_forwarded("127.0.0.1", "for=\"_gazonk\"") == "127.0.0.1");
  CHECK(via_forwarded("127.0.0.1", "for=203.0.113.1, proto=https") == "127.0.0.1");
  CHECK(via_forwarded("127.0.0.1", "for=\"203.0.113.1:_port\"") == "203.0.113.1");
  // A comma inside a quoted value does not split elements.
  CHECK(via_forwarded("127.0.0.1", "for=203.0.113.1;x=\"a,for=10.0.0.1\"") == "203.0.113.1");
  // Malformed.
  CHECK(via_forwarded("127.0.0.1", "for=\"203.0.113.1") == "127.0.0.1");
  CHECK(via_forwarded("127.0.0.1", "for=\"203.0.\\113.1\"") == "127.0.0.1");
  CHECK(via_forwarded("127.0.0.1", ";;;,,,") == "127.0.0.1");
}

TEST_CASE("a long chain keeps its right end only", "[client_address]") {
  std::string chain;
  for (int i = 0; i < 10000; ++i) chain += "10.0.0.1, ";
  chain += "203.0.113.1";
  CHECK(parse_x_forwarded_for(chain).size() == 32);
  CHECK(via_xff("127.0.0.1", chain) == "203.0.113.1");
}

TEST_CASE("the request's header lines are read as one list, the other header ignored", "[client_address]") {
  const Request two_lines = request_with({{"X-Forwarded-For", "1.2.3.4"}, {"X-Forwarded-For", "203.0.113.1"}});
  CHECK(kProxies.client_of("127.0.0.1", two_lines) == "203.0.113.1");
  const Request both = request_with({{"X-Forwarded-For", "203.0.113.1"}, {"Forwarded", "for=203.0.113.2"}});
  CHECK(kProxies.client_of("127.0.0.1", both) == "203.0.113.1");
  const TrustedProxies rfc({"127.0.0.1"}, ForwardedHeader::forwarded);
  CHECK(rfc.client_of("127.0.0.1", both) == "203.0.113.2");
  CHECK(rfc.client_of("127.0.0.1", request_with({{"X-Forwarded-For", "203.0.113.1"}})) == "127.0.0.1");
  CHECK(kProxies.client_of("198.51.100.1", both) == "198.51.100.1");
  CHECK(kProxies.trusts("10.200.3.4"));
  CHECK(kProxies.trusts("::ffff:127.0.0.1"));
  CHECK_FALSE(kProxies.trusts("127.0.0.2"));
  CHECK_FALSE(kProxies.trusts("?"));
  CHECK_THROWS_AS(TrustedProxies({"not-an-address"}, ForwardedHeader::x_forwarded_for), std::invalid_argument);
}
