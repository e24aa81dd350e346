#include <catch2/catch.hpp>

#include <regex>
#include <sstream>

#include "fmp4_fixture.hpp"
#include "hls/master.hpp"
#include "hls/packager.hpp"

using namespace relay::hls;

namespace {
uint64_t attr(const std::string& text, const std::string& name) {
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("[:,]" + name + "=([0-9]+)")));
  return std::stoull(m[1]);
}
}  // namespace

TEST_CASE("the bandwidth bound covers a VBV-full segment plus audio and boxes") {
  VariantSpec spec{"720p", 2800, 128, 0.5, 2.0, 30};
  auto bound = bandwidth_bound_bps(spec);
  CHECK(bound >= 2800'000 * 1.25 + 128'000);
  CHECK(bound < 2800'000 * 1.25 * 1.2 + 200'000);  // not wildly above it either
}

TEST_CASE("the master is offered only when every rendition is described") {
  Store store{{"720p", "360p"}};
  MasterPlaylist master({{"720p", 2800, 128, 0.5, 2.0, 30}, {"360p", 600, 128, 0.5, 2.0, 30}}, store);
  master.set_stream_info(0, 1280, 720, "avc1.64001f,mp4a.40.2");
  CHECK_FALSE(store.master());
  master.set_stream_info(1, 640, 360, "avc1.4d401e,mp4a.40.2");
  REQUIRE(store.master());
  auto m = *store.master();
  CHECK(m.find("RESOLUTION=1280x720") != std::string::npos);
  CHECK(m.find("RESOLUTION=640x360") != std::string::npos);
  CHECK(m.find("CODECS=\"avc1.4d401e,mp4a.40.2\"\n360p/index.m3u8") != std::string::npos);
  CHECK(m.find("FRAME-RATE=30.000") != std::string::npos);
  CHECK(m.find("720p/index.m3u8") < m.find("360p/index.m3u8"));
}

TEST_CASE("BANDWIDTH is never below the peak segment bitrate measured, AVERAGE-BANDWIDTH is the mean") {
  Store store{{"720p"}};
  MasterPlaylist master({{"720p", 2800, 128, 0.5, 2.0, 30}}, store);
  Packager packager({"720p", 2.0, 6, 0, 64u << 20}, 0, store, &master);
  packager.set_time_origin(1);
  packager.push(fixture::init_segment());
  // Segment 2 is far over the encoder's bound (an encoder misbehaving).
  for (int s = 0; s < 4; ++s)
    for (int part = 0; part < 4; ++part)
      packager.push(fixture::video_part(s * 60 + part * 15, 15, part == 0, s == 1 ? 70000 : 10000));
  auto m = *store.master();
  uint64_t peak = 0;
  double bytes = 0, seconds = 0;
  for (auto& [msn, seg] : store.rendition(0)->segments) {
    peak = std::max<uint64_t>(peak, uint64_t(seg->data->size() * 8 / seg->duration_s));
    bytes += seg->data->size();
    seconds += seg->duration_s;
  }
  CHECK(peak > bandwidth_bound_bps({"720p", 2800, 128, 0.5, 2.0, 30}));
  CHECK(attr(m, "BANDWIDTH") >= peak);
  CHECK(attr(m, "AVERAGE-BANDWIDTH") == Approx(bytes * 8 / seconds).epsilon(0.01));
  CHECK(m.find("CODECS=\"avc1.64001f,mp4a.40.2\"") != std::string::npos);
}

namespace {
ContentSteering two_caches() {
  return {"steering.json",
          {{"cache-a", "https://a.example.org/live/"}, {"cache-b", "http://127.0.0.1:8081/seminar/live/"}}};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}
}  // namespace

TEST_CASE("with content steering each variant is listed once per pathway, with its PATHWAY-ID and absolute URI") {
  Store store{{"720p", "360p"}};
  MasterPlaylist master({{"720p", 2800, 128, 0.5, 2.0, 30}, {"360p", 600, 128, 0.5, 2.0, 30}}, store, two_caches());
  master.set_stream_info(0, 1280, 720, "avc1.64001f,mp4a.40.2");
  master.set_stream_info(1, 640, 360, "avc1.4d401e,mp4a.40.2");
  REQUIRE(store.master());
  const auto lines = lines_of(*store.master());
  REQUIRE(lines.size() == 4 + 2 * 2 * 2);
  CHECK(lines[0] == "#EXTM3U");
  // The steering tag comes before every variant it groups.
  CHECK(lines[3] == "#EXT-X-CONTENT-STEERING:SERVER-URI=\"steering.json\",PATHWAY-ID=\"cache-a\"");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"cache-a", "https://a.example.org/live/720p/index.m3u8"},
      {"cache-a", "https://a.example.org/live/360p/index.m3u8"},
      {"cache-b", "http://127.0.0.1:8081/seminar/live/720p/index.m3u8"},
      {"cache-b", "http://127.0.0.1:8081/seminar/live/360p/index.m3u8"},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::string& inf = lines[4 + 2 * i];
    INFO(inf);
    CHECK(inf.starts_with("#EXT-X-STREAM-INF:BANDWIDTH="));
    CHECK(inf.find(",PATHWAY-ID=\"" + expected[i].first + "\"") != std::string::npos);
    const std::string name = i % 2 == 0 ? "720p" : "360p";
    CHECK(inf.find(",STABLE-VARIANT-ID=\"" + name + "\"") != std::string::npos);
    CHECK(inf.find(name == "720p" ? "RESOLUTION=1280x720" : "RESOLUTION=640x360") != std::string::npos);
    CHECK(lines[5 + 2 * i] == expected[i].second);
  }
  // The same variant on both pathways is the same stream: identical attributes but the pathway.
  auto without_pathway = [](std::string inf) { return inf.substr(0, inf.find(",PATHWAY-ID=")); };
  CHECK(without_pathway(lines[4]) == without_pathway(lines[8]));
}

TEST_CASE("without pathways the master is written as before: relative URIs, no steering") {
  Store plain_store{{"720p"}};
  MasterPlaylist plain({{"720p", 2800, 128, 0.5, 2.0, 30}}, plain_store);
  plain.set_stream_info(0, 1280, 720, "avc1.64001f,mp4a.40.2");
  const std::string text = *plain_store.master();
  CHECK(text.find("CONTENT-STEERING") == std::string::npos);
  CHECK(text.find("PATHWAY-ID") == std::string::npos);
  CHECK(text.find("STABLE-VARIANT-ID") == std::string::npos);
  CHECK(text.ends_with("CODECS=\"avc1.64001f,mp4a.40.2\"\n720p/index.m3u8\n"));
  // An empty pathway list is no steering either.
  ContentSteering none{"steering.json", {}};
  CHECK(write_master_playlist({}, &none) == write_master_playlist({}));
}
