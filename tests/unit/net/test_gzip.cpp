#include <catch2/catch.hpp>

#include <string>

#include "net/gzip.hpp"
#include "gunzip.hpp"

using relay::net::accepts_gzip;
using relay::net::gzip_compress;
using relay::test::gunzip;

TEST_CASE("Accept-Encoding negotiation", "[gzip]") {
  for (const char* yes : {"gzip", "GZIP", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "x-gzip", "*",
                          "deflate, *;q=0.5", " gzip ; q=0.001", "gzip;q=1"}) {
    INFO(yes);
    CHECK(accepts_gzip(yes));
  }
  for (const char* no : {"", "identity", "deflate, br", "gzip;q=0", "gzip; q=0.000", "*, gzip;q=0", "*;q=0",
                         "gzipped", "br, *;q=0.0"}) {
    INFO(no);
    CHECK_FALSE(accepts_gzip(no));
  }
}

TEST_CASE("gzip_compress round-trips through inflate", "[gzip]") {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "#EXT-X-PART:DURATION=0.500,URI=\"part" + std::to_string(i) + ".0.m4s\"\n";
  std::string gz = gzip_compress(text);
  REQUIRE(gz.size() > 18);
  CHECK(static_cast<unsigned char>(gz[0]) == 0x1f);  // gzip magic
  CHECK(static_cast<unsigned char>(gz[1]) == 0x8b);
  CHECK(gz.size() < text.size() / 3);
  CHECK(gunzip(gz) == text);
  CHECK(gunzip(gzip_compress("")) == "");
}
