#include <catch2/catch.hpp>

#include "net/request_target.hpp"

using relay::net::parse_request_target;

TEST_CASE("request targets are percent-decoded and split from the query", "[target]") {
  auto t = parse_request_target("/static/a%20b.js?x=1&y=%2e%2e");
  REQUIRE(t.ok());
  CHECK(t.path == "/static/a b.js");
  CHECK(t.query == "x=1&y=%2e%2e");

  CHECK(parse_request_target("/").path == "/");
  CHECK(parse_request_target("/a/./b").ok());
  CHECK(parse_request_target("/a/...").ok());
}

TEST_CASE("request targets that could escape or confuse are rejected", "[target]") {
  for (const char* bad : {"", "x", "*", "http://host/", "/..", "/../x", "/a/..", "/a/../b", "/%2e%2e/x", "/%2E%2e",
                          "/.%2e/", "/a%2f..%2fb", "/a\\b", "/a%5Cb", "/%", "/%2", "/%g0", "/a%00"}) {
    INFO(bad);
    CHECK_FALSE(parse_request_target(bad).ok());
  }
  CHECK(parse_request_target("/" + std::string(2047, 'a')).ok());
  CHECK_FALSE(parse_request_target("/" + std::string(2048, 'a')).ok());
}
