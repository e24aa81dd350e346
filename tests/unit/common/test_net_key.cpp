#include <catch2/catch.hpp>

#include "common/ip_network.hpp"
#include "common/net_key.hpp"

using relay::IpNetwork;
using relay::network_key;
using relay::parse_ip;

TEST_CASE("IPv6 addresses key per /64, IPv4 and mapped IPv4 per address", "[net_key]") {
  CHECK(network_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64");
  CHECK(network_key("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64");
  CHECK(network_key("::1") == "::/64");
  CHECK(network_key("::ffff:10.0.0.7") == "10.0.0.7");
  CHECK(network_key("10.0.0.7") == "10.0.0.7");
  CHECK(network_key("?") == "?");
  CHECK(network_key("") == "");
}

TEST_CASE("addresses parse as 16 bytes, IPv4 mapped into IPv6", "[ip_network]") {
  REQUIRE(parse_ip("192.0.2.1"));
  CHECK(parse_ip("192.0.2.1") == parse_ip("::ffff:192.0.2.1"));
  CHECK(parse_ip("2001:db8::1"));
  CHECK_FALSE(parse_ip(""));
  CHECK_FALSE(parse_ip("unknown"));
  CHECK_FALSE(parse_ip("192.0.2.1:80"));
  CHECK_FALSE(parse_ip("[2001:db8::1]"));
  CHECK_FALSE(parse_ip("192.0.2.256"));
  CHECK_FALSE(parse_ip(std::string(100, '1')));
}

TEST_CASE("networks match the addresses within their prefix", "[ip_network]") {
  auto v4 = IpNetwork::parse("10.1.2.3/8");
  REQUIRE(v4);
  CHECK(v4->contains(*parse_ip("10.200.0.1")));
  CHECK(v4->contains(*parse_ip("::ffff:10.0.0.1")));
  CHECK_FALSE(v4->contains(*parse_ip("11.0.0.1")));
  CHECK_FALSE(v4->contains(*parse_ip("2001:db8::1")));

  auto one = IpNetwork::parse("127.0.0.1");
  REQUIRE(one);
  CHECK(one->contains(*parse_ip("127.0.0.1")));
  CHECK_FALSE(one->contains(*parse_ip("127.0.0.2")));

  auto v6 = IpNetwork::parse("2001:db8:aa::/48");
  REQUIRE(v6);
  CHECK(v6->contains(*parse_ip("2001:db8:aa:ffff::1")));
  CHECK_FALSE(v6->contains(*parse_ip("2001:db8:ab::1")));

  auto all = IpNetwork::parse("0.0.0.0/0");
  REQUIRE(all);
  CHECK(all->contains(*parse_ip("203.0.113.9")));
  CHECK_FALSE(all->contains(*parse_ip("2001:db8::1")));
  CHECK(IpNetwork::parse("::/0")->contains(*parse_ip("2001:db8::1")));

  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "2001:db8::/129", "example.org",
                          "10.0.0.0/8/8", "[::1]", "10.0.0.0/ 8"})
    CHECK_FALSE(IpNetwork::parse(bad));
}
