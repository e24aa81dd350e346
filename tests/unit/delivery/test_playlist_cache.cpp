#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "delivery/playlist_cache.hpp"
#include "../net/gunzip.hpp"

using relay::delivery::PlaylistCache;
using relay::delivery::ServedPlaylist;
using relay::hls::make_bytes;
using relay::test::gunzip;

TEST_CASE("ServedPlaylist has one tag per representation and compresses once", "[playlist_cache][gzip]") {
  ServedPlaylist p(make_bytes("#EXTM3U\n#EXT-X-TARGETDURATION:2\n"), "p-1");
  CHECK(p.etag() == "\"p-1\"");
  CHECK(p.gzip_etag() == "\"p-1-gz\"");
  const auto& gz = p.gzip();
  REQUIRE(gz);
  CHECK(gunzip(*gz) == *p.text());
  CHECK(p.gzip() == gz);  // the same bytes, not a second compression
}

TEST_CASE("PlaylistCache makes a playlist once per source and generation", "[playlist_cache]") {
  PlaylistCache cache(2);
  int made = 0;
  auto make = [&](const relay::hls::Bytes& text) {
    return [&made, text] {
      ++made;
      return std::make_shared<const ServedPlaylist>(text, "t" + std::to_string(made));
    };
  };
  auto v1 = make_bytes("one");
  auto a = cache.get(0, v1, 0, make(v1));
  CHECK(cache.get(0, v1, 0, make(v1)) == a);
  CHECK(made == 1);

  SECTION("slots are independent") {
    auto other = cache.get(1, v1, 0, make(v1));
    CHECK(other != a);
    CHECK(cache.get(0, v1, 0, make(v1)) == a);
  }
  SECTION("new bytes or a new generation make it again") {
    auto v2 = make_bytes("one");  // equal text, another publish
    auto b = cache.get(0, v2, 0, make(v2));
    CHECK(b != a);
    auto c = cache.get(0, v2, 1, make(v2));
    CHECK(c != b);
    CHECK(cache.get(0, v2, 1, make(v2)) == c);
    CHECK(made == 3);
  }
  SECTION("an older generation made late does not replace a newer one") {
    auto newer = cache.get(0, v1, 5, make(v1));
    auto older = cache.get(0, v1, 4, make(v1));
    CHECK(older != newer);
    CHECK(cache.get(0, v1, 5, make(v1)) == newer);
  }
}
