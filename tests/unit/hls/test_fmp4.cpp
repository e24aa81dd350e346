#include <catch2/catch.hpp>

#include "fmp4_fixture.hpp"
#include "hls/fmp4.hpp"

using namespace relay::hls;

TEST_CASE("moov parsing finds tracks, timescales, sizes and codecs from the SPS and esds") {
  auto init = fixture::init_segment(854, 480);
  auto moov = fmp4::find_box(init, "moov");
  REQUIRE(moov);
  auto tracks = fmp4::parse_moov(moov->data);
  REQUIRE(tracks.size() == 2);
  CHECK(tracks[0].handler == "vide");
  CHECK(tracks[0].timescale == 90000);
  CHECK(tracks[0].width == 854);
  CHECK(tracks[0].height == 480);
  CHECK(tracks[0].codec == "avc1.64001f");
  CHECK(tracks[0].default_sample_duration == 3000);
  CHECK(tracks[1].handler == "soun");
  CHECK(tracks[1].codec == "mp4a.40.2");
}

TEST_CASE("moof parsing sums durations and reads the first sample's sync flag") {
  auto tracks = fmp4::parse_moov(fmp4::find_box(fixture::init_segment(), "moov")->data);
  auto idr = fixture::video_part(60, 15, true);
  auto frags = fmp4::parse_moof(fmp4::read_boxes(idr).front().data, tracks);
  REQUIRE(frags.size() == 1);
  CHECK(frags[0].track_id == 1);
  CHECK(frags[0].base_decode_time == 180000);
  CHECK(frags[0].duration == 45000);
  CHECK(frags[0].sample_count == 15);
  CHECK(frags[0].starts_with_sync);

  auto delta = fixture::video_part(75, 15, false);
  CHECK_FALSE(fmp4::parse_moof(fmp4::read_boxes(delta).front().data, tracks)[0].starts_with_sync);
}

TEST_CASE("the splitter yields whole boxes however the stream is chunked") {
  std::string stream = fixture::init_segment() + fixture::video_part(0, 15, true) + fixture::video_part(15, 15, false);
  for (size_t chunk : {1u, 7u, 100u, 4096u}) {
    fmp4::BoxSplitter splitter;
    std::vector<std::string> types;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      splitter.push(std::string_view(stream).substr(i, chunk));
      while (auto b = splitter.next()) types.push_back(b->first);
    }
    CHECK(types == std::vector<std::string>{"ftyp", "moov", "moof", "mdat", "moof", "mdat"});
    CHECK(splitter.buffered() == 0);
  }
}

TEST_CASE("malformed boxes are errors, not crashes") {
  std::string bad = fixture::box("moov", "");
  bad[3] = 4;  // size smaller than the header
  CHECK_THROWS_AS(fmp4::read_boxes(bad), fmp4::ParseError);
  std::string overlong = fixture::box("moof", "abc");
  overlong[3] = 100;
  CHECK_THROWS_AS(fmp4::read_boxes(overlong), fmp4::ParseError);
  CHECK_THROWS_AS(fmp4::avc_codec_from_sps("\x68\x64\x00\x1f"), fmp4::ParseError);
}
