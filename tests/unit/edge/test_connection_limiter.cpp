#include <catch2/catch.hpp>

#include <utility>

#include "config/config.hpp"
#include "edge/connection_limiter.hpp"
#include "edge/live_limits.hpp"

using relay::edge::Admission;
using relay::edge::ConnectionLimiter;
using relay::edge::ConnectionSlot;
using relay::edge::LiveLimits;

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
