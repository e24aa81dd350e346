#include <catch2/catch.hpp>

#include "net/etag.hpp"

using namespace relay::net;

TEST_CASE("HTTP dates are IMF-fixdates both ways", "[etag]") {
  CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date(format_http_date(1'700'000'009)) == 1'700'000'009);
  // The obsolete forms, and anything else, are no date: the request is answered in full.
  for (const char* other : {"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "yesterday", "",
                            "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 32 Nov 1994 08:49:37 GMT",
                            "Sun, 06 Foo 1994 08:49:37 GMT"}) {
    INFO(other);
    CHECK_FALSE(parse_http_date(other));
  }
}

TEST_CASE("If-Modified-Since: one-second resolution, stricter for objects that change in place", "[etag]") {
  const std::string second = format_http_date(1'700'000'009);
  // A named-once object changed within or before the second named: not modified.
  CHECK(not_modified_since(second, 1'700'000'009'000, false));
  CHECK(not_modified_since(second, 1'700'000'009'999, false));
  CHECK_FALSE(not_modified_since(second, 1'700'000'010'000, false));
  // A playlist may have changed again within that second: unchanged only if older than it.
  CHECK_FALSE(not_modified_since(second, 1'700'000'009'000, true));
  CHECK(not_modified_since(second, 1'700'000'008'999, true));
  // No date, or no modification time: modified.
  CHECK_FALSE(not_modified_since("garbage", 1'000, false));
  CHECK_FALSE(not_modified_since(second, 0, false));
}
