#include <catch2/catch.hpp>

#include <utility>

#include "config/config.hpp"
#include "net/connection_limiter.hpp"
#include "net/live_limits.hpp"

using relay::net::Admission;
using relay::net::ConnectionLimiter;
using relay::net::ConnectionSlot;
using relay::net::LiveLimits;

namespace {

relay::config::EdgeConfig caps(int total, int per_ip) {
  relay::config::EdgeConfig edge;
  edge.max_connections = total;
  edge.max_connections_per_ip = per_ip;
  return edge;
}

}  // namespace

TEST_CASE("one address gets its cap, others still get in, up to the total", "[limiter]") {
  LiveLimits limits(caps(5, 2));
  ConnectionLimiter limiter(limits);
  ConnectionSlot a1, a2, a3, b1, b2, c1, c2;
  CHECK(limiter.admit("10.0.0.1", a1) == Admission::admitted);
  CHECK(limiter.admit("10.0.0.1", a2) == Admission::admitted);
  CHECK(limiter.admit("10.0.0.1", a3) == Admission::over_address_cap);
  CHECK(limiter.admit("10.0.0.2", b1) == Admission::admitted);
  CHECK(limiter.admit("10.0.0.2", b2) == Admission::admitted);
  CHECK(limiter.admit("10.0.0.3", c1) == Admission::admitted);
  CHECK(limiter.admit("10.0.0.3", c2) == Admission::over_total_cap);
  CHECK(limiter.open() == 5);
  CHECK(limiter.open_from("10.0.0.1") == 2);
}

TEST_CASE("a slot gives its place back when destroyed, once, even after moves", "[limiter]") {
  LiveLimits limits(caps(10, 1));
  ConnectionLimiter limiter(limits);
  {
    ConnectionSlot slot;
    REQUIRE(limiter.admit("::1", slot) == Admission::admitted);
    ConnectionSlot moved(std::move(slot));
    ConnectionSlot assigned;
    assigned = std::move(moved);
    ConnectionSlot again;
    CHECK(limiter.admit("::1", again) == Admission::over_address_cap);
    CHECK(limiter.open() == 1);
  }
  CHECK(limiter.open() == 0);
  CHECK(limiter.open_from("::1") == 0);
  ConnectionSlot slot;
  CHECK(limiter.admit("::1", slot) == Admission::admitted);
}

TEST_CASE("a reload of the caps applies to the next connection", "[limiter]") {
  LiveLimits limits(caps(10, 1));
  ConnectionLimiter limiter(limits);
  ConnectionSlot first, second;
  REQUIRE(limiter.admit("10.0.0.1", first) == Admission::admitted);
  CHECK(limiter.admit("10.0.0.1", second) == Admission::over_address_cap);
  limits.set(caps(10, 2));
  CHECK(limiter.admit("10.0.0.1", second) == Admission::admitted);
}

TEST_CASE("IPv6 addresses count per /64, mapped IPv4 per address", "[limiter]") {
  LiveLimits limits(caps(10, 2));
  ConnectionLimiter limiter(limits);
  ConnectionSlot a, b, c, other, v4a, v4b, v4c;
  CHECK(limiter.admit("2001:db8:1:2::1", a) == Admission::admitted);
  CHECK(limiter.admit("2001:db8:1:2::2", b) == Admission::admitted);
  // A third address from the same /64 is the same client picking a new address.
  CHECK(limiter.admit("2001:db8:1:2:dead:beef:0:3", c) == Admission::over_address_cap);
  CHECK(limiter.admit("2001:db8:1:3::1", other) == Admission::admitted);
  CHECK(limiter.open_from("2001:db8:1:2::99") == 2);
  CHECK(limiter.admit("::ffff:192.0.2.1", v4a) == Admission::admitted);
  CHECK(limiter.admit("192.0.2.1", v4b) == Admission::admitted);
  CHECK(limiter.admit("::ffff:192.0.2.1", v4c) == Admission::over_address_cap);
  CHECK(limiter.open() == 5);
}
