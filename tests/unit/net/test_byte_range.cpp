#include <catch2/catch.hpp>

#include "net/byte_range.hpp"

using relay::net::parse_byte_range;
using relay::net::RangeRequest;

TEST_CASE("single byte ranges", "[range]") {
  auto r = parse_byte_range("bytes=0-99", 1000);
  REQUIRE(r.kind == RangeRequest::satisfiable);
  CHECK(r.range.first == 0);
  CHECK(r.range.last == 99);
  CHECK(r.range.length() == 100);

  r = parse_byte_range("bytes=500-", 1000);
  CHECK(r.range.first == 500);
  CHECK(r.range.last == 999);

  r = parse_byte_range("bytes=-100", 1000);
  CHECK(r.range.first == 900);
  CHECK(r.range.last == 999);

  r = parse_byte_range("bytes=-5000", 1000);
  CHECK(r.range.first == 0);

  r = parse_byte_range("Bytes = 10-20 ", 1000);
  CHECK(r.kind == RangeRequest::satisfiable);

  r = parse_byte_range("bytes=990-2000", 1000);
  CHECK(r.range.last == 999);
}

TEST_CASE("unsatisfiable byte ranges", "[range]") {
  CHECK(parse_byte_range("bytes=1000-", 1000).kind == RangeRequest::unsatisfiable);
  CHECK(parse_byte_range("bytes=1000-1001", 1000).kind == RangeRequest::unsatisfiable);
  CHECK(parse_byte_range("bytes=-0", 1000).kind == RangeRequest::unsatisfiable);
  CHECK(parse_byte_range("bytes=0-", 0).kind == RangeRequest::unsatisfiable);
}

TEST_CASE("ranges that are ignored", "[range]") {
  for (const char* ignored : {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "bytes=0-1,5-6",
                              "items=0-1", "bytes=+1-2", "bytes=1-2x", "bytes=99999999999999999999999-"}) {
    INFO(ignored);
    CHECK(parse_byte_range(ignored, 1000).kind == RangeRequest::none);
  }
}
