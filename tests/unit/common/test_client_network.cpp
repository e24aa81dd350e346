#include <catch2/catch.hpp>

#include "common/client_network.hpp"

using relay::client_network;

TEST_CASE("IPv6 addresses belong to their /64, IPv4 ones stand alone", "[client_network]") {
  CHECK(client_network("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64");
  CHECK(client_network("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64");
  CHECK(client_network("2001:db8:1:3::1") == "2001:db8:1:3::/64");
  CHECK(client_network("::1") == "::/64");
  CHECK(client_network("::ffff:10.0.0.7") == "10.0.0.7");
  CHECK(client_network("10.0.0.7") == "10.0.0.7");
  CHECK(client_network("?") == "?");
  CHECK(client_network("") == "");
}
