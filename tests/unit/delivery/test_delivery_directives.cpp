#include <catch2/catch.hpp>

#include "delivery/delivery_directives.hpp"

using relay::delivery::parse_delivery_directives;

TEST_CASE("no directives: a plain reload", "[directives]") {
  for (const char* query : {"", "a=1", "foo", "&&", "_hls_msn=3", "x=1&y"}) {
    INFO(query);
    auto d = parse_delivery_directives(query);
    CHECK(d.ok());
    CHECK_FALSE(d.msn);
    CHECK_FALSE(d.part);
    CHECK_FALSE(d.skip);
  }
}

TEST_CASE("_HLS_msn, _HLS_part and _HLS_skip are read, other parameters ignored", "[directives]") {
  auto d = parse_delivery_directives("token=abc&_HLS_msn=12&_HLS_part=3&_HLS_skip=YES&t=9");
  REQUIRE(d.ok());
  CHECK(d.msn == 12u);
  CHECK(d.part == 3u);
  CHECK(d.skip);

  auto only_msn = parse_delivery_directives("_HLS_msn=0");
  REQUIRE(only_msn.ok());
  CHECK(only_msn.msn == 0u);
  CHECK_FALSE(only_msn.part);

  auto v2 = parse_delivery_directives("_HLS_skip=v2");
  REQUIRE(v2.ok());
  CHECK(v2.skip);
  CHECK_FALSE(v2.msn);

  // Order does not matter.
  auto reversed = parse_delivery_directives("_HLS_part=0&_HLS_msn=7");
  REQUIRE(reversed.ok());
  CHECK(reversed.msn == 7u);
  CHECK(reversed.part == 0u);
}

TEST_CASE("malformed directives are refused with a reason", "[directives]") {
  for (const char* query :
       {"_HLS_msn=", "_HLS_msn", "_HLS_msn=abc", "_HLS_msn=-1", "_HLS_msn=+1", "_HLS_msn=1.5", "_HLS_msn= 1",
        "_HLS_msn=99999999999999999999999", "_HLS_msn=1&_HLS_part=x", "_HLS_msn=1&_HLS_msn=2",
        "_HLS_msn=1&_HLS_part=1&_HLS_part=2", "_HLS_skip=NO", "_HLS_skip=yes", "_HLS_skip=", "_HLS_skip=YES&_HLS_skip=v2"}) {
    INFO(query);
    auto d = parse_delivery_directives(query);
    CHECK_FALSE(d.ok());
  }
}

TEST_CASE("_HLS_part without _HLS_msn is refused", "[directives]") {
  auto d = parse_delivery_directives("_HLS_part=2");
  CHECK_FALSE(d.ok());
  CHECK(d.error == "_HLS_part requires _HLS_msn");
}
