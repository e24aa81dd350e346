#include <catch2/catch.hpp>

#include "common/wall_time.hpp"

using namespace relay::wall_time;

TEST_CASE("RFC 3339 times with an offset are read as instants and written back as given") {
  const auto berlin = parse_rfc3339("2027-03-10T09:00:00+01:00");
  REQUIRE(berlin);
  CHECK(berlin->unix_seconds == 1804665600);  // 2027-03-10T08:00:00Z
  CHECK(berlin->offset_minutes == 60);
  CHECK(format_rfc3339(*berlin) == "2027-03-10T09:00:00+01:00");
  CHECK(format_rfc3339_utc(berlin->unix_seconds) == "2027-03-10T08:00:00Z");
  CHECK(format_ical_utc(berlin->unix_seconds) == "20270310T080000Z");

  const auto utc = parse_rfc3339("2027-03-10T08:00:00Z");
  REQUIRE(utc);
  CHECK(utc->unix_seconds == berlin->unix_seconds);
  CHECK(format_rfc3339(*utc) == "2027-03-10T08:00:00Z");

  const auto west = parse_rfc3339("2027-03-09t21:30:15.250-05:30");
  REQUIRE(west);
  CHECK(format_rfc3339_utc(west->unix_seconds) == "2027-03-10T03:00:15Z");
  CHECK(format_rfc3339(*west) == "2027-03-09T21:30:15-05:30");

  // Across a year and a leap day.
  CHECK(format_ical_utc(parse_rfc3339("2028-01-01T00:30:00+01:00")->unix_seconds) == "20271231T233000Z");
  CHECK(parse_rfc3339("2028-02-29T12:00:00Z"));
}

TEST_CASE("times without a zone, or with impossible fields, are refused") {
  for (const char* bad : {"2027-03-10T09:00:00", "2027-03-10", "09:00", "", "2027-02-29T10:00:00Z",
                          "2027-13-01T10:00:00Z", "2027-03-10T24:00:00Z", "2027-03-10T09:60:00Z",
                          "2027-03-10T09:00:00+1:00", "2027-03-10T09:00:00+01:60", "2027-03-10X09:00:00Z",
                          "2027-03-10T09:00:00.Z", "2027-03-10T09:00:00Z junk", "１０２７-03-10T09:00:00Z"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad));
  }
}
