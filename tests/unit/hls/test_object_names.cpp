#include <catch2/catch.hpp>

#include <set>

#include "fmp4_fixture.hpp"
#include "hls/object_names.hpp"
#include "hls/packager.hpp"
#include "hls/playlist.hpp"

using namespace relay::hls;

TEST_CASE("instance ids are short base36 and differ between runs") {
  auto id = make_instance_id(1'767'225'600'000, 0);
  CHECK(id == "t85s00000");  // 2026-01-01 in seconds, base36, then three random digits
  CHECK(id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz") == std::string::npos);
  CHECK(make_instance_id(1'767'225'600'000, 1) != id);
  CHECK(make_instance_id(1'767'225'601'000, 0) != id);
  std::set<std::string> fresh;
  for (int i = 0; i < 20; ++i) fresh.insert(new_instance_id());
  CHECK(fresh.size() > 15);  // the same second, told apart by randomness
}

TEST_CASE("segment and part names carry the instance; each has exactly one spelling") {
  CHECK(segment_uri("k1", 42) == "seg-k1-42.m4s");
  CHECK(segment_uri("k1", 42, "ts") == "seg-k1-42.ts");
  CHECK(part_uri("k1", 42, 3) == "part-k1-42.3.m4s");
  CHECK(parse_segment_uri("seg-k1-42.m4s", "k1", "m4s") == 42u);
  CHECK(parse_segment_uri("seg-k1-42.ts", "k1", "ts") == 42u);
  CHECK(parse_part_uri("part-k1-42.3.m4s", "k1") == std::pair<uint64_t, size_t>{42, 3});
  for (const char* other : {"seg-k2-42.m4s", "seg-k1-042.m4s", "seg-k1-+42.m4s", "seg-k1-42.ts", "seg42.m4s",
                            "seg-k1--42.m4s", "seg-k1-.m4s", "seg-k1-42.m4s.m4s", "seg-k142.m4s", "seg--42.m4s"}) {
    INFO(other);
    CHECK_FALSE(parse_segment_uri(other, "k1", "m4s"));
  }
  for (const char* other : {"part-k2-42.3.m4s", "part42.3.m4s", "part-k1-42.03.m4s", "part-k1-42.m4s",
                            "part-k1-42..m4s", "part-k1-.3.m4s", "part-k1-42.3.mp4"}) {
    INFO(other);
    CHECK_FALSE(parse_part_uri(other, "k1"));
  }
  // A name of no instance is no name.
  CHECK_FALSE(parse_segment_uri("seg--42.m4s", "", "m4s"));
}

TEST_CASE("an init section is named by its content") {
  auto a = init_uri("ftypmoov-a");
  CHECK(a.size() == std::string("init-0123456789ab.mp4").size());
  CHECK(a.starts_with("init-"));
  CHECK(a == init_uri("ftypmoov-a"));
  CHECK(a != init_uri("ftypmoov-b"));
}

namespace {

void feed(Packager& p, int segments, int start_gop) {
  for (int s = start_gop; s < start_gop + segments; ++s)
    for (int part = 0; part < 4; ++part) {
      uint64_t frame = uint64_t(s) * 60 + uint64_t(part) * 15;
      p.push(fixture::audio_part(frame * 1600, 23));
      p.push(fixture::video_part(frame, 15, part == 0));
    }
}

}  // namespace

TEST_CASE("a new init section mid-stream starts a discontinuity with its own EXT-X-MAP") {
  Store store{{"720p"}};
  Packager packager({"720p", 2.0, 6, 0, 64u << 20, 0.5, false, 0, 0, 30, "k1"}, 0, store, nullptr);
  packager.set_time_origin(1'767'225'600'000);
  const std::string first = fixture::init_segment(1280, 720), second = fixture::init_segment(1920, 1080);
  packager.push(first);
  feed(packager, 3, 0);
  // The encoder restarts with other settings: a new init, then media from its IDR.
  packager.push(second);
  feed(packager, 2, 3);

  auto snap = store.rendition(0);
  const std::string old_map = "#EXT-X-MAP:URI=\"" + init_uri(first) + "\"\n";
  const std::string new_map = "#EXT-X-MAP:URI=\"" + init_uri(second) + "\"\n";
  const std::string& pl = *snap->playlist;
  INFO(pl);
  REQUIRE(pl.find(old_map) != std::string::npos);
  // Segment 4 is the first of the new init: DISCONTINUITY, then its MAP, then its PDT and parts.
  CHECK(pl.find("#EXT-X-DISCONTINUITY\n" + new_map + "#EXT-X-PROGRAM-DATE-TIME:") != std::string::npos);
  CHECK(pl.find(new_map) > pl.find("seg-k1-3.m4s"));
  CHECK(pl.find(new_map) < pl.find("seg-k1-4.m4s"));
  CHECK(pl.find("#EXT-X-DISCONTINUITY") == pl.rfind("#EXT-X-DISCONTINUITY"));
  // Both init sections stay servable by name while segments need them.
  CHECK(snap->init_uri == init_uri(second));
  REQUIRE(snap->find_init(init_uri(first)));
  CHECK(*snap->find_init(init_uri(first)) == first);
  CHECK(*snap->find_init(init_uri(second)) == second);
  CHECK_FALSE(snap->find_init("init.mp4"));
  CHECK(snap->segments.at(3)->init_uri == init_uri(first));
  CHECK(snap->segments.at(4)->init_uri == init_uri(second));
  CHECK(snap->segments.at(4)->discontinuity);
  CHECK_FALSE(snap->segments.at(3)->discontinuity);
}

TEST_CASE("the same init section again is no discontinuity") {
  Store store{{"720p"}};
  Packager packager({"720p", 2.0, 6, 0, 64u << 20, 0.5, false, 0, 0, 30, "k1"}, 0, store, nullptr);
  packager.set_time_origin(1'767'225'600'000);
  packager.push(fixture::init_segment());
  feed(packager, 2, 0);
  packager.push(fixture::init_segment());
  feed(packager, 2, 2);
  CHECK(store.rendition(0)->playlist->find("#EXT-X-DISCONTINUITY") == std::string::npos);
}
