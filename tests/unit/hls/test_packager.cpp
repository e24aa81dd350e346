#include <catch2/catch.hpp>

#include <regex>
#include <sstream>

#include "fmp4_fixture.hpp"
#include "hls/packager.hpp"
#include "hls/playlist.hpp"

using namespace relay::hls;

namespace {

constexpr int64_t kOrigin = 1'767'225'600'000;  // 2026-01-01T00:00:00.000Z

// Feeds `segments` two-second GOPs at 30 fps, four parts each (15+15+15+15 frames),
// audio fragments interleaved before each video part as mp4mux writes them.
void feed(Packager& p, int segments, uint32_t idr_bytes = 100, int start_gop = 0) {
  for (int s = start_gop; s < start_gop + segments; ++s) {
    for (int part = 0; part < 4; ++part) {
      uint64_t frame = uint64_t(s) * 60 + uint64_t(part) * 15;
      p.push(fixture::audio_part(frame * 1600, 23));
      p.push(fixture::video_part(frame, 15, part == 0, part == 0 ? idr_bytes : 100));
    }
  }
}

// Object names carry the stream instance; the tests' is "t0".
PackagerOptions named(PackagerOptions o) {
  o.instance = "t0";
  return o;
}

struct Rig {
  Store store{{"720p"}};
  MasterPlaylist master{{{"720p", 2800, 128, 0.5, 2.0, 30.0}}, store};
  Packager packager;
  explicit Rig(PackagerOptions o = {"720p", 2.0, 6, 0, 64u << 20}) : packager(named(o), 0, store, &master) {
    packager.set_time_origin(kOrigin);
    packager.push(fixture::init_segment());
  }
  std::string playlist() const {
    auto snap = store.rendition(0);
    return snap && snap->playlist ? *snap->playlist : "";
  }
};

std::vector<double> extinfs(const std::string& playlist) {
  std::vector<double> out;
  std::regex re("#EXTINF:([0-9.]+),");
  for (std::sregex_iterator it(playlist.begin(), playlist.end(), re), end; it != end; ++it)
    out.push_back(std::stod((*it)[1]));
  return out;
}

long tag_int(const std::string& playlist, const std::string& tag) {
  std::smatch m;
  REQUIRE(std::regex_search(playlist, m, std::regex(tag + ":([0-9]+)")));
  return std::stol(m[1]);
}

}  // namespace

TEST_CASE("no playlist until a segment is complete; the first segment has media sequence 1") {
  Rig rig;
  feed(rig.packager, 1);
  CHECK(rig.playlist().empty());  // segment 1 closes only when the next IDR arrives
  feed(rig.packager, 1, 100, 1);
  auto pl = rig.playlist();
  REQUIRE_FALSE(pl.empty());
  CHECK(tag_int(pl, "#EXT-X-MEDIA-SEQUENCE") == 1);
  CHECK(pl.find("seg-t0-1.m4s") != std::string::npos);
  CHECK(pl.find("#EXT-X-MAP:URI=\"" + init_uri(fixture::init_segment()) + "\"\n") != std::string::npos);
}

TEST_CASE("every segment starts with the IDR part and holds both tracks") {
  Rig rig;
  feed(rig.packager, 3);
  auto snap = rig.store.rendition(0);
  REQUIRE(snap->segments.size() == 2);
  for (auto& [msn, seg] : snap->segments) {
    REQUIRE(seg->parts.size() == 4);
    CHECK(seg->parts[0].independent);
    CHECK_FALSE(seg->parts[1].independent);
    CHECK(seg->duration_s == Approx(2.0));
    auto tracks = rig.packager.tracks();
    bool found_video_idr = false;
    for (auto& box : fmp4::read_boxes(*seg->data)) {
      if (box.type != "moof") continue;
      auto f = fmp4::parse_moof(box.data, tracks).front();
      if (f.track_id == fixture::kVideoTrack) {
        found_video_idr = f.starts_with_sync;  // first video fragment decides
        break;
      }
    }
    CHECK(found_video_idr);
  }
}

TEST_CASE("a stray early IDR does not cut a short segment") {
  Rig rig;
  for (int part = 0; part < 4; ++part) rig.packager.push(fixture::video_part(part * 15, 15, part == 0 || part == 1));
  feed(rig.packager, 1, 100, 1);
  feed(rig.packager, 1, 100, 2);
  auto d = extinfs(rig.playlist());
  REQUIRE(d.size() == 2);
  CHECK(d[0] == Approx(2.0));
}

TEST_CASE("EXT-X-TARGETDURATION is at least every rounded EXTINF, even after a long segment") {
  Rig rig;
  feed(rig.packager, 2);
  // A 3.5 s GOP (105 frames) followed by normal ones.
  for (int part = 0; part < 7; ++part) rig.packager.push(fixture::video_part(120 + part * 15, 15, part == 0));
  for (int s = 0; s < 2; ++s)
    for (int part = 0; part < 4; ++part)
      rig.packager.push(fixture::video_part(225 + s * 60 + part * 15, 15, part == 0));
  auto pl = rig.playlist();
  long target = tag_int(pl, "#EXT-X-TARGETDURATION");
  auto d = extinfs(pl);
  REQUIRE(d.size() >= 3);
  for (double x : d) CHECK(rounded_duration(x) <= target);
  CHECK(target == 4);
}

TEST_CASE("MEDIA-SEQUENCE rises with the window and never goes back") {
  Rig rig;
  long last = 0;
  for (int s = 0; s < 20; ++s) {
    feed(rig.packager, 1, 100, s);
    auto pl = rig.playlist();
    if (pl.empty()) continue;
    long seq = tag_int(pl, "#EXT-X-MEDIA-SEQUENCE");
    CHECK(seq >= last);
    last = seq;
    auto d = extinfs(pl);
    CHECK(d.size() <= 6);
  }
  CHECK(last == 19 - 6 + 1);  // 19 complete segments, window of 6
}

TEST_CASE("the live window never covers less than three target durations") {
  Rig rig({"720p", 1.0, 3, 0, 64u << 20});
  // 1 s segments with 3.0 s ones among them raise the target to 3 → 9 s needed.
  for (int s = 0; s < 6; ++s)
    for (int part = 0; part < 2; ++part)
      rig.packager.push(fixture::video_part(s * 30 + part * 15, 15, part == 0));
  for (int part = 0; part < 6; ++part) rig.packager.push(fixture::video_part(180 + part * 15, 15, part == 0));
  for (int s = 0; s < 12; ++s)
    for (int part = 0; part < 2; ++part)
      rig.packager.push(fixture::video_part(270 + s * 30 + part * 15, 15, part == 0));
  auto pl = rig.playlist();
  long target = tag_int(pl, "#EXT-X-TARGETDURATION");
  CHECK(target == 3);
  double total = 0;
  for (double x : extinfs(pl)) total += x;
  CHECK(total >= 3.0 * target - 1e-9);
}

TEST_CASE("a DVR window lists more segments than the live window") {
  Rig rig({"720p", 2.0, 6, 30.0, 64u << 20});
  feed(rig.packager, 25);
  CHECK(extinfs(rig.playlist()).size() == 15);
  CHECK(rig.packager.listed_count() == 15);
}

TEST_CASE("segments out of every window are evicted after a short grace") {
  Rig rig;
  feed(rig.packager, 30);
  auto snap = rig.store.rendition(0);
  CHECK(snap->segments.size() == 6 + 3);
  CHECK(snap->segments.begin()->first == 29 - 9 + 1);
  CHECK(snap->last_msn == 29);
}

TEST_CASE("the memory cap bounds what a rendition holds") {
  Rig rig({"720p", 2.0, 6, 3600.0, 2u << 20});
  feed(rig.packager, 40, 20000);
  auto snap = rig.store.rendition(0);
  size_t held = 0;
  for (auto& [msn, seg] : snap->segments) held += seg->data->size() * 2;
  CHECK(held <= (2u << 20));
  CHECK(snap->segments.size() >= 3);
}

TEST_CASE("PROGRAM-DATE-TIME follows the capture clock on every segment") {
  Rig rig;
  feed(rig.packager, 4);
  auto pl = rig.playlist();
  CHECK(pl.find("#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n#EXTINF:2.000,\nseg-t0-1.m4s") != std::string::npos);
  CHECK(pl.find("#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000Z\n#EXTINF:2.000,\nseg-t0-3.m4s") != std::string::npos);
}

TEST_CASE("output before the first IDR is dropped, and a stream without init is an error") {
  Store store{{"a"}};
  Packager bare({"a", 2.0, 6, 0, 1u << 20}, 0, store, nullptr);
  CHECK_THROWS_AS(bare.push(fixture::video_part(0, 15, true)), fmp4::ParseError);

  Rig rig;
  rig.packager.push(fixture::video_part(0, 15, false));
  feed(rig.packager, 3, 100, 1);
  auto snap = rig.store.rendition(0);
  CHECK(snap->segments.begin()->second->pdt_epoch_ms == kOrigin + 2000);
}
