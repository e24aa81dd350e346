#include <catch2/catch.hpp>

#include <regex>

#include "../hls/fmp4_fixture.hpp"
#include "captions/subtitle_packager.hpp"
#include "hls/master.hpp"
#include "hls/packager.hpp"

using namespace relay;
using namespace relay::captions;

namespace {
constexpr int64_t T0 = 1'767'225'600'000;

std::vector<std::string> lines_matching(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back(it->str());
  return out;
}

// A video rendition (30 fps, 2 s segments, 0.5 s parts when low latency) and
// its subtitle renditions following it, as the relay wires them.
struct Rig {
  hls::Store video{{"360p"}};
  CueStore cues{{{"de", "Deutsch"}, {"en", "English"}}, CueRules{}};
  hls::Store subtitles{subtitle_rendition_names(cues.languages())};
  SubtitlePackager packager{cues, subtitles};
  std::unique_ptr<hls::Packager> video_packager;
  uint64_t frame = 0;
  uint64_t subscription;

  explicit Rig(double part_target_s = 0.5) {
    hls::PackagerOptions options{"360p", 2.0, 6, 0, 64u << 20, part_target_s};
    options.instance = "t0";
    video_packager = std::make_unique<hls::Packager>(options, 0, video, nullptr);
    video_packager->set_time_origin(T0);
    subscription = video.subscribe([this](size_t, uint64_t) { packager.follow(*video.rendition(0)); });
    video_packager->push(fixture::init_segment());
  }
  ~Rig() { video.unsubscribe(subscription); }
  // 15 frames (0.5 s) of video, a whole GOP every 60.
  void part() {
    video_packager->push(fixture::video_part(frame, 15, frame % 60 == 0));
    frame += 15;
  }
  void seconds(double s) {
    for (int i = 0; i < static_cast<int>(s * 2); ++i) part();
  }
  std::string playlist(size_t i) const { return *subtitles.rendition(i)->playlist; }
  std::string segment(size_t i, uint64_t msn) const { return *subtitles.rendition(i)->segments.at(msn)->data; }
};
}  // namespace

TEST_CASE("subtitle playlists list the video's segments: same msn, durations, PDT, target") {
  Rig rig;
  rig.seconds(8.5);
  const std::string video = *rig.video.rendition(0)->playlist;
  const std::string subs = rig.playlist(0);
  for (const char* pattern : {"#EXT-X-MEDIA-SEQUENCE:\\d+", "#EXT-X-TARGETDURATION:\\d+", "#EXTINF:[0-9.]+,",
                              "#EXT-X-PROGRAM-DATE-TIME:[^\\n]+", "#EXT-X-PART:DURATION=[0-9.]+",
                              "#EXT-X-SERVER-CONTROL:[^\\n]+"}) {
    INFO(pattern);
    CHECK(lines_matching(subs, pattern) == lines_matching(video, pattern));
  }
  CHECK(subs.find("seg-t0-1.vtt") != std::string::npos);
  CHECK(subs.find("part-t0-4.0.vtt") != std::string::npos);
  CHECK(subs.find("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part-t0-") != std::string::npos);
  CHECK(subs.find(".m4s") == std::string::npos);
  CHECK(subs.find("EXT-X-MAP") == std::string::npos);
  auto snapshot = rig.subtitles.rendition(1);
  CHECK(snapshot->last_msn == rig.video.rendition(0)->last_msn);
  CHECK(snapshot->segment_extension == "vtt");
}

TEST_CASE("an empty subtitle segment is just the header, mapped to the video segment's start") {
  Rig rig;
  rig.seconds(4.5);
  const std::string seg2 = rig.segment(0, 2);
  CHECK(seg2 == "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:180000,LOCAL:00:00:00.000\n");  // frame 60 at 90 kHz
}

TEST_CASE("a posted line lands in the next unpublished part and segment, on the video's clock") {
  Rig rig;
  rig.seconds(2.5);  // segment 1 complete, part 2.0 published: media up to T0 + 2.5 s is out
  CHECK(rig.cues.published_until() == T0 + 2'500);
  auto posted = rig.cues.post(0, "Willkommen", "Anna", T0 + 2'700);
  CHECK_FALSE(posted.moved);
  rig.seconds(2);  // segment 2 ends at T0 + 4 s
  const std::string seg2 = rig.segment(0, 2);
  CHECK(seg2.find("00:00:00.700 --> 00:00:02.700\nWillkommen") != std::string::npos);
  // The cue runs to T0 + 4.7 s: repeated in segment 3, from its start.
  rig.seconds(2);
  const std::string seg3 = rig.segment(0, 3);
  CHECK(seg3.find("00:00:00.000 --> 00:00:00.700\nWillkommen") != std::string::npos);
  // Same identifier in both, so a player keeps one cue.
  const std::string id = "c" + std::to_string(posted.cue.id) + "\n";
  CHECK(seg2.find(id) != std::string::npos);
  CHECK(seg3.find(id) != std::string::npos);
  // The part it began in has it too, and the other language has nothing.
  const auto& parts = rig.subtitles.rendition(0)->segments.at(2)->parts;
  REQUIRE(parts.size() == 4);
  CHECK(parts[1].data->find("Willkommen") != std::string::npos);
  CHECK(parts[0].data->find("Willkommen") == std::string::npos);
  CHECK(rig.segment(1, 2).find("Willkommen") == std::string::npos);
}

TEST_CASE("a line stamped inside published media moves to the first unpublished part") {
  Rig rig;
  rig.seconds(3);
  auto posted = rig.cues.post(0, "Zu spät", "Anna", T0 + 1'000);
  CHECK(posted.moved);
  CHECK(posted.cue.start_ms == T0 + 3'000);
  rig.seconds(1.5);
  CHECK(rig.segment(0, 2).find("00:00:01.000 --> ") != std::string::npos);
  CHECK(rig.segment(0, 1).find("Zu sp") == std::string::npos);  // published segments never change
}

TEST_CASE("published subtitle parts keep their bytes in the completed segment") {
  Rig rig;
  rig.seconds(2.5);
  auto open_part = rig.subtitles.rendition(0)->open_parts.at(0).data;
  rig.cues.post(0, "Hallo", "A", T0 + 2'600);
  rig.seconds(2);
  CHECK(rig.subtitles.rendition(0)->segments.at(2)->parts.at(0).data == open_part);
}

TEST_CASE("without low latency the subtitle playlist has segments only") {
  Rig rig(0);
  rig.seconds(6.5);
  const std::string subs = rig.playlist(0);
  CHECK(subs.find("#EXT-X-PART") == std::string::npos);
  CHECK(subs.find("seg-t0-2.vtt") != std::string::npos);
  CHECK(lines_matching(subs, "#EXTINF:[0-9.]+,") == lines_matching(*rig.video.rendition(0)->playlist, "#EXTINF:[0-9.]+,"));
}

TEST_CASE("the master lists a subtitles group and every variant names it") {
  std::string master =
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"x\"\na/index.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=2,CODECS=\"y\"\nb/index.m3u8\n";
  CHECK(hls::with_subtitles(master, {}) == master);
  auto out = hls::with_subtitles(master, {{"de", "Deutsch", "subs-de/index.m3u8"}, {"en", "English", "subs-en/index.m3u8"}});
  CHECK(out.find("#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"de\",NAME=\"Deutsch\",AUTOSELECT=YES,"
                 "DEFAULT=NO,FORCED=NO,URI=\"subs-de/index.m3u8\"\n") != std::string::npos);
  CHECK(out.find("LANGUAGE=\"en\"") < out.find("#EXT-X-STREAM-INF"));
  CHECK(lines_matching(out, "SUBTITLES=\"subs\"\n[ab]/index.m3u8").size() == 2);
}
