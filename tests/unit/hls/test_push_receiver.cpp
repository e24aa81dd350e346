#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/clock.hpp"
#include "fmp4_fixture.hpp"
#include "hls/packager.hpp"
#include "hls/push_receiver.hpp"
#include "hls/pushed_playlist.hpp"

using namespace relay::hls;

namespace {

// What the receiver hands on, as text: "init:<bytes>", "media:<bytes>[@pdt]", "disc".
struct Recorder final : FeedTarget {
  std::vector<std::string> events;
  void init(std::string_view bytes) override { events.push_back("init:" + std::string(bytes)); }
  void media(std::string_view bytes, std::optional<int64_t> pdt) override {
    events.push_back("media:" + std::string(bytes) + (pdt ? fmt::format("@{}", *pdt) : ""));
  }
  void discontinuity() override { events.push_back("disc"); }
  void end_segment() override { ++ended; }
  int ended = 0;
  std::vector<std::string> take() { return std::exchange(events, {}); }
};

using Events = std::vector<std::string>;

// A pushed LL playlist: `complete` whole segments of four parts from `first`, then
// `open_parts` parts of the next; PDT 1000 * msn on every segment.
std::string ll_playlist(uint64_t first, int complete, int open_parts, std::string init = "init.mp4") {
  std::string out = fmt::format(
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART-INF:PART-TARGET=0.5\n#EXT-X-MEDIA-SEQUENCE:{}\n"
      "#EXT-X-MAP:URI=\"{}\"\n",
      first, init);
  for (int s = 0; s <= complete; ++s) {
    const uint64_t msn = first + s;
    const int parts = s < complete ? 4 : open_parts;
    if (parts == 0) break;
    out += fmt::format("#EXT-X-PROGRAM-DATE-TIME:{}\n", relay::format_iso8601_ms(1000 * int64_t(msn)));
    for (int i = 0; i < parts; ++i)
      out += fmt::format("#EXT-X-PART:DURATION=0.5,URI=\"p{}.{}\"{}\n", msn, i, i == 0 ? ",INDEPENDENT=YES" : "");
    if (s < complete) out += fmt::format("#EXTINF:2.0,\ns{}\n", msn);
  }
  return out;
}

// A pushed playlist without parts, as ffmpeg sends it.
std::string whole_playlist(uint64_t first, int count) {
  std::string out = fmt::format("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-MAP:URI=\"init.mp4\"\n", first);
  for (int s = 0; s < count; ++s) out += fmt::format("#EXTINF:2.0,\nindex{}.m4s\n", first + s);
  return out;
}

void store_parts(PushedRendition& r, uint64_t msn, int from, int to) {
  for (int i = from; i < to; ++i) r.store(fmt::format("p{}.{}", msn, i), fmt::format("p{}.{}", msn, i));
}

FeedReport playlist(PushedRendition& r, const std::string& text) { return r.on_playlist(parse_pushed_playlist(text)); }

}  // namespace

TEST_CASE("pushed parts are fed in playlist order, each once, and never the whole segment") {
  Recorder target;
  PushedRendition r(target, {});
  r.store("init.mp4", "I");
  store_parts(r, 10, 0, 2);
  auto report = playlist(r, ll_playlist(10, 0, 2));
  CHECK(report.fed == 3);
  CHECK(target.take() == Events{"init:I", "media:p10.0@10000", "media:p10.1"});

  // The same playlist again feeds nothing; the next parts only what is new.
  CHECK(playlist(r, ll_playlist(10, 0, 2)).fed == 0);
  store_parts(r, 10, 2, 4);
  store_parts(r, 11, 0, 1);
  r.store("s10", "whole segment: never sent by an LL pusher, never fed");
  playlist(r, ll_playlist(10, 1, 1));
  CHECK(target.take() == Events{"media:p10.2", "media:p10.3", "media:p11.0@11000"});
  CHECK(r.buffered_objects() == 1);  // only the stray whole segment waits, until evicted
}

TEST_CASE("objects arriving out of order wait for the playlist; the feed stops at the first one missing") {
  Recorder target;
  PushedRendition r(target, {});
  r.store("init.mp4", "I");
  store_parts(r, 5, 0, 1);
  store_parts(r, 5, 2, 3);  // part 1 is still on its way
  auto report = playlist(r, ll_playlist(5, 0, 3));
  CHECK(report.waiting_for == "p5.1");
  CHECK(target.take() == Events{"init:I", "media:p5.0@5000"});
  store_parts(r, 5, 1, 2);
  report = playlist(r, ll_playlist(5, 0, 3));
  CHECK(report.waiting_for.empty());
  CHECK(target.take() == Events{"media:p5.1", "media:p5.2"});
}

TEST_CASE("an object lost for good makes a gap: a discontinuity, then the next whole segment") {
  Recorder target;
  PushedRendition r(target, {});
  r.store("init.mp4", "I");
  store_parts(r, 7, 0, 1);
  playlist(r, ll_playlist(7, 0, 1));
  CHECK(target.take() == Events{"init:I", "media:p7.0@7000"});
  // p7.1 never comes; the rest of 7 and segment 8 do.
  store_parts(r, 7, 2, 4);
  store_parts(r, 8, 0, 2);
  auto first = playlist(r, ll_playlist(7, 1, 2));
  CHECK(first.waiting_for == "p7.1");  // one playlist of grace: it may still be on its way
  CHECK(target.take().empty());
  auto second = playlist(r, ll_playlist(7, 1, 2));
  CHECK(second.gap);
  // Nothing of segment 7 after the loss goes in: the next segment starts clean.
  CHECK(target.take() == Events{"disc", "media:p8.0@8000", "media:p8.1"});
  CHECK(r.buffered_objects() == 0);
}

TEST_CASE("ffmpeg's whole segments are fed in order, once, and the init before the first") {
  Recorder target;
  PushedRendition r(target, {});
  r.store("init.mp4", "I");
  r.store("index0.m4s", "S0");
  playlist(r, whole_playlist(0, 1));
  r.store("index1.m4s", "S1");
  playlist(r, whole_playlist(0, 2));
  playlist(r, whole_playlist(0, 2));
  r.store("index2.m4s", "S2");
  // ffmpeg's list slides on (hls_list_size) and old segments are deleted.
  CHECK_FALSE(r.remove("index0.m4s"));
  playlist(r, whole_playlist(1, 2));
  CHECK(target.take() == Events{"init:I", "media:S0", "media:S1", "media:S2"});
}

TEST_CASE("the first playlist starts at the first whole segment start that is here") {
  Recorder target;
  PushedRendition r(target, {});
  r.store("init.mp4", "I");
  // The receiver came up in the middle of segment 20: its later parts are no start.
  store_parts(r, 20, 2, 4);
  store_parts(r, 21, 0, 1);
  auto report = playlist(r, ll_playlist(18, 3, 1));
  CHECK(target.take() == Events{"init:I", "media:p21.0@21000"});
  CHECK_FALSE(report.gap);
  CHECK(r.buffered_objects() == 0);  // the parts passed over are dropped
}

TEST_CASE("a pusher that restarts (its sequence goes back) continues after a discontinuity with its new init") {
  Recorder target;
  PushedRendition r(target, {});
  r.store("init.mp4", "I1");
  for (int i = 0; i < 5; ++i) r.store(fmt::format("index{}.m4s", i + 100), fmt::format("A{}", i));
  playlist(r, whole_playlist(100, 5));
  target.take();
  r.store("init.mp4", "I2");
  r.store("index0.m4s", "B0");
  auto report = playlist(r, whole_playlist(0, 1));
  CHECK(report.restarted);
  CHECK(target.take() == Events{"disc", "init:I2", "media:B0"});
}

TEST_CASE("an init section sent again unchanged is not fed again; a changed one is") {
  Recorder target;
  PushedRendition r(target, {});
  r.store("init.mp4", "I");
  r.store("index0.m4s", "S0");
  playlist(r, whole_playlist(0, 1));
  r.store("init.mp4", "I");
  r.store("index1.m4s", "S1");
  playlist(r, whole_playlist(0, 2));
  CHECK(target.take() == Events{"init:I", "media:S0", "media:S1"});
  // A new init under a new name (a hall relay's new stream instance), listed from a segment on.
  r.store("init-b.mp4", "J");
  r.store("p2.0", "p2.0");
  playlist(r, ll_playlist(2, 0, 1, "init-b.mp4"));
  CHECK(target.take() == Events{"init:J", "media:p2.0@2000"});
}

TEST_CASE("after the relay's own slate the feed resumes at the next whole segment, with the pusher's init again") {
  Recorder target;
  PushedRendition r(target, {});
  r.store("init.mp4", "I");
  store_parts(r, 7, 0, 2);
  playlist(r, ll_playlist(7, 0, 2));
  CHECK(target.take() == Events{"init:I", "media:p7.0@7000", "media:p7.1"});
  // The uplink was lost mid-segment; the slate went into the target.
  r.resume_after_slate();
  // The pusher continues: the rest of segment 7 (its start went before the slate) is not fed;
  // segment 8 is, after a discontinuity and with the init, which was not sent again.
  store_parts(r, 7, 2, 4);
  store_parts(r, 8, 0, 2);
  playlist(r, ll_playlist(7, 1, 2));
  CHECK(target.take() == Events{"disc", "init:I", "media:p8.0@8000", "media:p8.1"});
  // Only once: the next parts follow as usual.
  store_parts(r, 8, 2, 3);
  playlist(r, ll_playlist(7, 1, 3));
  CHECK(target.take() == Events{"media:p8.2"});
}

TEST_CASE("objects no playlist lists are never fed, and the buffer is bounded") {
  Recorder target;
  PushLimits limits;
  limits.max_buffered_objects = 4;
  limits.max_buffered_bytes = 100;
  limits.max_object_bytes = 60;
  PushedRendition r(target, limits);
  CHECK_FALSE(r.store("big", std::string(61, 'x')));
  for (int i = 0; i < 6; ++i) CHECK(r.store(fmt::format("junk{}", i), "j"));
  CHECK(r.buffered_objects() == 4);
  CHECK(r.evicted() == 2);
  CHECK(r.store("a", std::string(60, 'a')));
  CHECK(r.store("b", std::string(60, 'b')));
  CHECK(r.buffered_bytes() <= 100);
  playlist(r, whole_playlist(0, 1));  // lists init.mp4 and index0.m4s, neither here
  CHECK(target.take().empty());
}

TEST_CASE("a malformed object fails that playlist; the feed starts again at the next segment") {
  Store store{{"720p"}};
  MasterPlaylist master{{{"720p", 2800, 128, 0.5, 2.0, 30.0}}, store};
  Packager packager({"720p", 2.0, 6, 0, 64u << 20, 0.5}, 0, store, &master);
  PackagerTarget target(packager);
  PushedRendition r(target, {});
  r.store("init.mp4", "not an init section at all");
  r.store("index0.m4s", "junk");
  CHECK_THROWS(playlist(r, whole_playlist(0, 1)));
  CHECK(r.buffered_objects() == 0);
}

// The relay's own packager fed with a hall relay's parts: the cloud's parts are the
// hall's, one for one, and a gap shows as a discontinuity.
TEST_CASE("pushed parts come out of the receiving packager as the same parts, with PDT and a discontinuity") {
  Store store{{"720p"}};
  MasterPlaylist master{{{"720p", 2800, 128, 0.5, 2.0, 30.0}}, store};
  Packager packager({"720p", 2.0, 6, 0, 64u << 20, 0.5}, 0, store, &master);
  PackagerTarget target(packager);
  PushedRendition r(target, {});
  r.store("init.mp4", fixture::init_segment());
  // Four 2 s segments of four 15-frame parts (audio then video, as mp4mux writes them).
  auto part = [](int s, int i) {
    const uint64_t frame = uint64_t(s) * 60 + uint64_t(i) * 15;
    return fixture::audio_part(frame * 1600, 23) + fixture::video_part(frame, 15, i == 0);
  };
  for (int s = 0; s < 3; ++s)
    for (int i = 0; i < 4; ++i) r.store(fmt::format("p{}.{}", s + 1, i), part(s, i));
  r.store("p4.0", part(3, 0));
  playlist(r, ll_playlist(1, 3, 1));
  auto snap = store.rendition(0);
  REQUIRE(snap);
  CHECK(snap->last_msn == 3);
  REQUIRE(snap->segments.count(1));
  CHECK(snap->segments.at(1)->parts.size() == 4);
  CHECK(*snap->segments.at(1)->parts.at(2).data == part(0, 2));
  CHECK(snap->segments.at(1)->pdt_epoch_ms == 1000);
  CHECK(snap->segments.at(3)->pdt_epoch_ms == 3000);
  CHECK(snap->open_parts.size() == 1);
  const std::string& text = *snap->playlist;
  CHECK(text.find("#EXT-X-PART:DURATION=0.500,URI=\"" + part_uri(snap->instance, 2, 3) + "\"") != std::string::npos);
  CHECK(text.find("DISCONTINUITY") == std::string::npos);

  // Part 4.1 is lost; 4.2, 4.3 and segment 5 arrive. Two playlists later: a gap.
  r.store("p4.2", part(3, 2));
  r.store("p4.3", part(3, 3));
  for (int i = 0; i < 4; ++i) r.store(fmt::format("p5.{}", i), part(4, i));
  r.store("p6.0", part(5, 0));
  playlist(r, ll_playlist(1, 5, 1));
  playlist(r, ll_playlist(1, 5, 1));
  snap = store.rendition(0);
  const std::string& after = *snap->playlist;
  // The cut-short segment 4 (one part) is closed, and what follows is marked.
  REQUIRE(snap->segments.count(4));
  CHECK(snap->segments.at(4)->parts.size() == 1);
  CHECK(snap->segments.at(5)->discontinuity);
  CHECK(after.find("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:05.000Z") != std::string::npos);
}
