#include <catch2/catch.hpp>

#include <chrono>

#include "config/config.hpp"
#include "net/live_limits.hpp"

using namespace std::chrono_literals;
using relay::net::kMinSendRate;
using relay::net::LiveLimits;
using relay::net::send_timeout;

TEST_CASE("a response gets the read timeout plus a second per 64 KiB to be taken", "[limits]") {
  CHECK(send_timeout(15s, 0) == 15s);
  CHECK(send_timeout(15s, kMinSendRate - 1) == 15s);
  CHECK(send_timeout(15s, kMinSendRate) == 16s);
  // A 2 MB segment: about 32 s on top at 512 kbit/s.
  CHECK(send_timeout(1500ms, 2'000'000) == 1500ms + 30s);
}

TEST_CASE("the send timeout follows a reloaded read timeout", "[limits]") {
  relay::config::EdgeConfig edge;
  edge.read_timeout_s = 4;
  LiveLimits limits(edge);
  CHECK(limits.send_timeout(3 * kMinSendRate) == 7s);
  edge.read_timeout_s = 0.5;
  limits.set(edge);
  CHECK(limits.send_timeout(3 * kMinSendRate) == 3500ms);
}
