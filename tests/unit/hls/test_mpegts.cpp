#include <catch2/catch.hpp>

#include <regex>

#include "hls/packager.hpp"
#include "ts_fixture.hpp"

using namespace relay::hls;

TEST_CASE("the TS splitter finds PIDs, codecs and the random-access points with their PTS") {
  mpegts::Splitter splitter;
  auto bytes = ts_fixture::stream(2);
  mpegts::Splitter::Output all;
  for (size_t i = 0; i < bytes.size(); i += 1000) {  // chunking that cuts packets in half
    auto out = splitter.push(std::string_view(bytes).substr(i, 1000));
    for (auto c : out.cuts) all.cuts.push_back({c.offset + all.packets.size(), c.pts_90k});
    all.packets += out.packets;
  }
  CHECK(all.packets == bytes);
  REQUIRE(splitter.video_pid());
  CHECK(*splitter.video_pid() == ts_fixture::kVideoPid);
  CHECK(splitter.video_codec() == "avc1.64001f");
  CHECK(splitter.audio_codec() == "mp4a.40.2");
  REQUIRE(all.cuts.size() == 2);
  CHECK(all.cuts[0].pts_90k == 900000);
  CHECK(all.cuts[1].pts_90k == 900000 + 60 * 3000);
  CHECK(static_cast<uint8_t>(all.packets[all.cuts[1].offset]) == 0x47);
  CHECK_THROWS_AS(mpegts::Splitter().push(std::string(188, 'x')), fmp4::ParseError);
}

TEST_CASE("TS segments start at IDRs with the program tables, without EXT-X-MAP or parts") {
  Store store{{"ts"}};
  MasterPlaylist master({{"ts", 800, 128, 0.5, 2.0, 30}}, store);
  PackagerOptions opts{"ts", 2.0, 6, 0, 16u << 20, 0.5, true, 640, 360, 30, "t0"};
  Packager p(opts, 0, store, &master);
  p.set_time_origin(1'767'225'600'000);
  p.push(ts_fixture::stream(4));
  auto snap = store.rendition(0);
  REQUIRE(snap->playlist);
  auto pl = *snap->playlist;
  CHECK(pl.find("#EXT-X-MAP") == std::string::npos);
  CHECK(pl.find("#EXT-X-PART") == std::string::npos);
  CHECK(pl.find("#EXTINF:2.000,\nseg-t0-1.ts\n") != std::string::npos);
  CHECK(pl.find("#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z\n#EXTINF:2.000,\nseg-t0-2.ts") != std::string::npos);
  REQUIRE(snap->segments.size() == 3);
  auto seg = snap->segments.at(2);
  CHECK(seg->data->substr(0, 376) == ts_fixture::pat() + ts_fixture::pmt());
  CHECK(seg->data->size() % 188 == 0);
  CHECK(seg->parts.empty());
  CHECK(snap->part_target_s == 0);
  REQUIRE(store.master());
  CHECK(store.master()->find("RESOLUTION=640x360,FRAME-RATE=30.000,CODECS=\"avc1.64001f,mp4a.40.2\"") !=
        std::string::npos);
}
