#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "recording/vod.hpp"

using namespace relay::recording;
using Catch::Matchers::Contains;

namespace {

constexpr int64_t kT0 = 1'796'634'000'000;  // 2026-12-07T09:00:00.000Z

SegmentEntry segment(uint32_t run, std::string rendition, uint64_t msn, int64_t pdt_ms, double duration_s = 1.0,
                     bool vtt = false) {
  SegmentEntry s;
  s.run = run;
  s.rendition = rendition;
  s.msn = msn;
  s.file = fmt::format("{}/{}-{}.{}", rendition, run, msn, vtt ? "vtt" : "m4s");
  s.init = vtt ? std::string() : fmt::format("{}/init-{}.mp4", rendition, run);
  s.duration_s = duration_s;
  s.pdt_epoch_ms = pdt_ms;
  s.media_time_90k = static_cast<uint64_t>(msn) * 90000;
  s.bytes = 1000;
  return s;
}

// One run of 1 s segments in "360p" (msn 1..10 from kT0) and the same in "subs-de".
EventIndex one_run() {
  EventIndex index;
  index.event = "2026-12-07";
  index.runs.push_back({1, kT0, "#EXTM3U\n"});
  for (uint64_t msn = 1; msn <= 10; ++msn) {
    index.segments.push_back(segment(1, "360p", msn, kT0 + static_cast<int64_t>(msn - 1) * 1000));
    index.segments.push_back(segment(1, "subs-de", msn, kT0 + static_cast<int64_t>(msn - 1) * 1000, 1.0, true));
  }
  return index;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

size_t count(const std::string& text, std::string_view what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
  return n;
}

std::vector<uint64_t> msns(const std::vector<const SegmentEntry*>& segments) {
  std::vector<uint64_t> out;
  for (const SegmentEntry* s : segments) out.push_back(s->msn);
  return out;
}

}  // namespace

TEST_CASE("a talk's span needs both marks, end after start") {
  EventIndex index = one_run();
  index.talks.push_back({"a", kT0, kT0 + 3000});
  index.talks.push_back({"on-stage", kT0 + 4000, std::nullopt});
  index.talks.push_back({"backwards", kT0 + 4000, kT0 + 4000});
  const auto span = talk_span(index, "a");
  REQUIRE(span);
  CHECK(span->start_ms == kT0);
  CHECK(span->end_ms == kT0 + 3000);
  CHECK_FALSE(talk_span(index, "on-stage"));
  CHECK_FALSE(talk_span(index, "backwards"));
  CHECK_FALSE(talk_span(index, "unknown"));
}

TEST_CASE("cuts fall on segment boundaries") {
  const EventIndex index = one_run();
  SECTION("marks on boundaries take exactly the segments between them") {
    CHECK(msns(cut_segments(index, "360p", kT0 + 2000, kT0 + 5000)) == std::vector<uint64_t>{3, 4, 5});
  }
  SECTION("marks inside segments take the whole segments they fall in") {
    CHECK(msns(cut_segments(index, "360p", kT0 + 2500, kT0 + 5200)) == std::vector<uint64_t>{3, 4, 5, 6});
  }
  SECTION("a talk before or after the recording has no segments") {
    CHECK(cut_segments(index, "360p", kT0 - 5000, kT0 - 1000).empty());
    CHECK(cut_segments(index, "360p", kT0 + 10'000, kT0 + 20'000).empty());
    CHECK(cut_segments(index, "720p", kT0, kT0 + 5000).empty());
  }
  SECTION("the subtitle rendition is cut the same way") {
    CHECK(msns(cut_segments(index, "subs-de", kT0 + 2500, kT0 + 5200)) == std::vector<uint64_t>{3, 4, 5, 6});
  }
  const auto cut = cut_segments(index, "360p", kT0 + 2500, kT0 + 5200);
  CHECK(total_duration_s(cut) == Approx(4.0));
  CHECK(reference_rendition(index) == "360p");
}

TEST_CASE("a VOD media playlist") {
  const EventIndex index = one_run();
  const std::string text = write_vod_playlist(cut_segments(index, "360p", kT0 + 2000, kT0 + 4000), "../../media/");
  CHECK(lines(text) == std::vector<std::string>{
                           "#EXTM3U",
                           "#EXT-X-VERSION:7",
                           "#EXT-X-TARGETDURATION:1",
                           "#EXT-X-PLAYLIST-TYPE:VOD",
                           "#EXT-X-INDEPENDENT-SEGMENTS",
                           "#EXT-X-MAP:URI=\"../../media/360p/init-1.mp4\"",
                           "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:02.000Z",
                           "#EXTINF:1.000,",
                           "../../media/360p/1-3.m4s",
                           "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:03.000Z",
                           "#EXTINF:1.000,",
                           "../../media/360p/1-4.m4s",
                           "#EXT-X-ENDLIST",
                       });
}

TEST_CASE("target duration is the ceiling of the longest segment; EXTINF has 3 decimals") {
  EventIndex index;
  index.segments.push_back(segment(1, "360p", 1, kT0, 2.002));
  index.segments.push_back(segment(1, "360p", 2, kT0 + 2002, 1.9996));
  const std::string text = write_vod_playlist(index.segments_of("360p"), "");
  CHECK_THAT(text, Contains("#EXT-X-TARGETDURATION:3\n"));
  CHECK_THAT(text, Contains("#EXTINF:2.002,\n"));
  CHECK_THAT(text, Contains("#EXTINF:2.000,\n"));
}

TEST_CASE("a run change is a discontinuity with the new run's init") {
  EventIndex index;
  for (uint64_t msn = 1; msn <= 3; ++msn) index.segments.push_back(segment(1, "360p", msn, kT0 + (msn - 1) * 1000));
  // The relay restarted: a new run numbers its segments from 1 again, 5 s later.
  for (uint64_t msn = 1; msn <= 3; ++msn)
    index.segments.push_back(segment(2, "360p", msn, kT0 + 8000 + (msn - 1) * 1000));
  const auto cut = cut_segments(index, "360p", kT0 + 1500, kT0 + 9500);
  REQUIRE(msns(cut) == std::vector<uint64_t>{2, 3, 1, 2});
  const std::string text = write_vod_playlist(cut, "m/");
  const auto l = lines(text);
  CHECK(count(text, "#EXT-X-DISCONTINUITY\n") == 1);
  CHECK(count(text, "#EXT-X-MAP:") == 2);
  const auto disc = std::find(l.begin(), l.end(), "#EXT-X-DISCONTINUITY");
  REQUIRE(disc != l.end());
  CHECK(*(disc + 1) == "#EXT-X-MAP:URI=\"m/360p/init-2.mp4\"");
  CHECK(*(disc + 2) == "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:08.000Z");
  CHECK(*(disc + 4) == "m/360p/2-1.m4s");
  // The gap between the runs is not in the presentation: it is 4 s long.
  CHECK(total_duration_s(cut) == Approx(4.0));
  CHECK(presentation_time_s(cut, kT0 + 2500) == Approx(1.5));
  CHECK(presentation_time_s(cut, kT0 + 5000) == Approx(2.0));  // in the gap: where the next run starts
  CHECK(presentation_time_s(cut, kT0 + 8500) == Approx(2.5));
}

TEST_CASE("a missing segment within a run is a discontinuity; a marked one too; a new init within a run a new MAP") {
  EventIndex index;
  index.segments.push_back(segment(1, "360p", 1, kT0));
  index.segments.push_back(segment(1, "360p", 2, kT0 + 1000));
  index.segments.push_back(segment(1, "360p", 4, kT0 + 3000));  // 3 lost
  index.segments.push_back(segment(1, "360p", 5, kT0 + 4000));
  SegmentEntry marked = segment(1, "360p", 6, kT0 + 5000);
  marked.discontinuity = true;
  marked.init = "360p/init-1-1.mp4";
  index.segments.push_back(marked);
  const std::string text = write_vod_playlist(index.segments_of("360p"), "");
  const auto l = lines(text);
  CHECK(count(text, "#EXT-X-DISCONTINUITY\n") == 2);
  const auto first = std::find(l.begin(), l.end(), "#EXT-X-DISCONTINUITY");
  REQUIRE(first != l.end());
  CHECK(*(first + 1) == "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T09:00:03.000Z");
  const auto second = std::find(first + 1, l.end(), "#EXT-X-DISCONTINUITY");
  REQUIRE(second != l.end());
  CHECK(*(second + 1) == "#EXT-X-MAP:URI=\"360p/init-1-1.mp4\"");
  CHECK(count(text, "#EXT-X-MAP:") == 2);
  CHECK(count(text, "#EXT-X-PROGRAM-DATE-TIME:") == 5);
}

TEST_CASE("WebVTT segments get no MAP") {
  const EventIndex index = one_run();
  const std::string text = write_vod_playlist(cut_segments(index, "subs-de", kT0, kT0 + 2000), "../../media/");
  CHECK(count(text, "#EXT-X-MAP") == 0);
  CHECK_THAT(text, Contains("../../media/subs-de/1-1.vtt\n"));
  CHECK_THAT(text, Contains("#EXT-X-ENDLIST\n"));
}

TEST_CASE("the whole-event playlist carries one DATERANGE per talk after the first PDT") {
  EventIndex index = one_run();
  std::vector<DateRange> ranges{{"talk-a", "Opening \"keynote\"", kT0 + 1000, kT0 + 4000},
                                {"talk-b", "Second", kT0 + 5000, kT0 + 9000}};
  const std::string text = write_vod_playlist(index.segments_of("360p"), "", ranges);
  const auto l = lines(text);
  const auto pdt = std::find_if(l.begin(), l.end(), [](const std::string& s) { return s.starts_with("#EXT-X-PROGRAM-DATE-TIME:"); });
  const auto range = std::find_if(l.begin(), l.end(), [](const std::string& s) { return s.starts_with("#EXT-X-DATERANGE:"); });
  REQUIRE(pdt != l.end());
  REQUIRE(range != l.end());
  CHECK(pdt < range);
  CHECK(*range == "#EXT-X-DATERANGE:ID=\"talk-a\",CLASS=\"com.seminar-relay.talk\",START-DATE=\"2026-12-07T09:00:01.000Z\","
                  "END-DATE=\"2026-12-07T09:00:04.000Z\",X-TITLE=\"Opening 'keynote'\"");
  CHECK(count(text, "#EXT-X-DATERANGE:") == 2);
  CHECK(count(text, "#EXTINF:") == 10);
}

TEST_CASE("chapters are placed on the presentation's timeline") {
  EventIndex index = one_run();
  index.talks.push_back({"a", kT0 + 1000, kT0 + 4000});
  index.talks.push_back({"b", kT0 + 4500, kT0 + 9000});
  index.talks.push_back({"later", kT0 + 60'000, std::nullopt});
  const auto presentation = index.segments_of("360p");
  const auto list = chapters(index, presentation, {{"a", "Opening"}, {"b", "Second --> talk"}, {"later", "Later"}});
  REQUIRE(list.size() == 2);
  CHECK(list[0].start_s == Approx(1.0));
  CHECK(list[0].end_s == Approx(4.0));
  CHECK(list[1].start_s == Approx(4.5));
  CHECK(write_chapters_vtt(list) ==
        "WEBVTT\n"
        "\ntalk-a\n00:00:01.000 --> 00:00:04.000\nOpening\n"
        "\ntalk-b\n00:00:04.500 --> 00:00:09.000\nSecond -> talk\n");
  CHECK(format_vtt_time(3723.4567) == "01:02:03.457");
}

TEST_CASE("the VOD master keeps the variants and groups, drops steering, rewrites URIs") {
  const std::string live =
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
      "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",LANGUAGE=\"de\",NAME=\"Deutsch\",AUTOSELECT=YES,DEFAULT=YES\n"
      "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",LANGUAGE=\"en\",NAME=\"English, interpreted\",AUTOSELECT=YES,"
      "DEFAULT=NO,URI=\"audio-1/index.m3u8\"\n"
      "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"de\",NAME=\"Deutsch\",AUTOSELECT=YES,DEFAULT=NO,"
      "FORCED=NO,URI=\"subs-de/index.m3u8\"\n"
      "#EXT-X-CONTENT-STEERING:SERVER-URI=\"steering.json\",PATHWAY-ID=\"a\"\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=900000,RESOLUTION=640x360,FRAME-RATE=25.000,"
      "CODECS=\"avc1.64001e,mp4a.40.2\",PATHWAY-ID=\"a\",STABLE-VARIANT-ID=\"360p\",AUDIO=\"aud\",SUBTITLES=\"subs\"\n"
      "https://a.example/live/360p/index.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=600000,AVERAGE-BANDWIDTH=400000,RESOLUTION=426x240,FRAME-RATE=25.000,"
      "CODECS=\"avc1.4d401e,mp4a.40.2\",PATHWAY-ID=\"a\",STABLE-VARIANT-ID=\"240p\",AUDIO=\"aud\",SUBTITLES=\"subs\"\n"
      "https://a.example/live/240p/index.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=900000,RESOLUTION=640x360,FRAME-RATE=25.000,"
      "CODECS=\"avc1.64001e,mp4a.40.2\",PATHWAY-ID=\"b\",STABLE-VARIANT-ID=\"360p\",AUDIO=\"aud\",SUBTITLES=\"subs\"\n"
      "https://b.example/live/360p/index.m3u8\n";
  SECTION("every rendition recorded") {
    const std::string vod = write_vod_master(live, {"360p", "240p", "audio-1", "subs-de"});
    CHECK(lines(vod) ==
          std::vector<std::string>{
              "#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS",
              "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",LANGUAGE=\"de\",NAME=\"Deutsch\",AUTOSELECT=YES,DEFAULT=YES",
              "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",LANGUAGE=\"en\",NAME=\"English, interpreted\",AUTOSELECT=YES,"
              "DEFAULT=NO,URI=\"audio-1/index.m3u8\"",
              "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",LANGUAGE=\"de\",NAME=\"Deutsch\",AUTOSELECT=YES,"
              "DEFAULT=NO,FORCED=NO,URI=\"subs-de/index.m3u8\"",
              "#EXT-X-STREAM-INF:BANDWIDTH=1200000,AVERAGE-BANDWIDTH=900000,RESOLUTION=640x360,FRAME-RATE=25.000,"
              "CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aud\",SUBTITLES=\"subs\"",
              "360p/index.m3u8",
              "#EXT-X-STREAM-INF:BANDWIDTH=600000,AVERAGE-BANDWIDTH=400000,RESOLUTION=426x240,FRAME-RATE=25.000,"
              "CODECS=\"avc1.4d401e,mp4a.40.2\",AUDIO=\"aud\",SUBTITLES=\"subs\"",
              "240p/index.m3u8",
          });
  }
  SECTION("only renditions with segments in the talk; an empty group is no longer referenced") {
    const std::string vod = write_vod_master(live, {"360p", "audio-1"});
    CHECK(count(vod, "#EXT-X-STREAM-INF:") == 1);
    CHECK_THAT(vod, !Contains("240p"));
    CHECK_THAT(vod, !Contains("subs"));
    CHECK_THAT(vod, Contains("AUDIO=\"aud\"\n360p/index.m3u8\n"));
  }
  CHECK(rendition_of_uri("720p/index.m3u8") == "720p");
  CHECK(rendition_of_uri("https://a.example/live/720p/index.m3u8?x=1") == "720p");
  CHECK(rendition_of_uri("index.m3u8").empty());
}

TEST_CASE("file names from a URL") {
  CHECK(is_plain_file_name("3-41.m4s"));
  CHECK(is_plain_file_name("init-3.mp4"));
  CHECK(is_plain_file_name("subs-de"));
  CHECK_FALSE(is_plain_file_name(""));
  CHECK_FALSE(is_plain_file_name(".."));
  CHECK_FALSE(is_plain_file_name(".hidden"));
  CHECK_FALSE(is_plain_file_name("a/b"));
  CHECK_FALSE(is_plain_file_name("/etc"));
  CHECK_FALSE(is_plain_file_name(std::string("a\0b", 3)));
  CHECK_FALSE(is_plain_file_name("a%2e"));
  CHECK_FALSE(is_plain_file_name("a\\b"));
}
