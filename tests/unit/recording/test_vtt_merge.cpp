#include <catch2/catch.hpp>

#include "captions/webvtt.hpp"
#include "recording/vtt_merge.hpp"

using relay::recording::merge_webvtt;

namespace {

constexpr uint64_t kOrigin = 900000;  // the talk starts 10 s into the media clock

// A segment as captions/webvtt.cpp writes it, `at_s` seconds into the talk.
std::string segment(double at_s, const std::string& cues) {
  return "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:" + std::to_string(int64_t(kOrigin) + int64_t(at_s * 90000)) +
         ",LOCAL:00:00:00.000\n" + cues;
}

}  // namespace

TEST_CASE("no segments, or segments without cues, give an empty WebVTT file") {
  CHECK(merge_webvtt({}, kOrigin, 60) == "WEBVTT\n\n");
  CHECK(merge_webvtt({segment(0, ""), segment(2, "")}, kOrigin, 60) == "WEBVTT\n\n");
}

TEST_CASE("a cue repeated across segment boundaries is kept once, over its whole time") {
  // c7 starts 1.5 s into the first 2 s segment and ends 0.5 s into the third.
  auto merged = merge_webvtt({segment(0, "\nc7\n00:00:01.500 --> 00:00:04.500\nHello &amp; welcome\n"),
                              segment(2, "\nc7\n00:00:00.000 --> 00:00:02.500\nHello &amp; welcome\n"),
                              segment(4, "\nc7\n00:00:00.000 --> 00:00:00.500\nHello &amp; welcome\n"
                                         "\nc8\n00:00:01.000 --> 00:00:01.800\nNext &lt;line&gt;\n")},
                             kOrigin, 60);
  CHECK(merged ==
        "WEBVTT\n\n"
        "c7\n00:00:01.500 --> 00:00:04.500\nHello &amp; welcome\n\n"
        "c8\n00:00:05.000 --> 00:00:05.800\nNext &lt;line&gt;\n\n");
}

TEST_CASE("cues are placed by each segment's timestamp map and sorted by time") {
  // Segments given out of order, a map with a LOCAL time, and an early cue last.
  std::string shifted = "WEBVTT\nX-TIMESTAMP-MAP=LOCAL:00:00:10.000,MPEGTS:" + std::to_string(kOrigin + 20 * 90000) +
                        "\n\nlate\n00:00:10.250 --> 00:00:11.000\nat 20.25 s\n";
  auto merged = merge_webvtt({shifted, segment(6, "\nb\n00:00:01.000 --> 00:00:02.000\nat 7 s\n"
                                                  "\na\n00:00:00.000 --> 00:00:00.400\nat 6 s\n")},
                             kOrigin, 60);
  CHECK(merged ==
        "WEBVTT\n\n"
        "a\n00:00:06.000 --> 00:00:06.400\nat 6 s\n\n"
        "b\n00:00:07.000 --> 00:00:08.000\nat 7 s\n\n"
        "late\n00:00:20.250 --> 00:00:21.000\nat 20.25 s\n\n");
}

TEST_CASE("cues are clipped to the talk") {
  auto merged = merge_webvtt({segment(-3, "\nbefore\n00:00:00.000 --> 00:00:01.000\ngone\n"
                                          "\nacross-start\n00:00:02.000 --> 00:00:04.000\nfrom zero\n"),
                              segment(8, "\nacross-end\n00:00:01.000 --> 00:00:05.000\nto the end\n"
                                         "\nafter\n00:00:02.000 --> 00:00:03.000\nafter the end\n")},
                             kOrigin, 10.0);
  CHECK(merged ==
        "WEBVTT\n\n"
        "across-start\n00:00:00.000 --> 00:00:01.000\nfrom zero\n\n"
        "across-end\n00:00:09.000 --> 00:00:10.000\nto the end\n\n");
}

TEST_CASE("settings, several lines, CRLF, NOTE blocks and cues without id are handled as WebVTT says") {
  std::string crlf = "WEBVTT\r\nX-TIMESTAMP-MAP=MPEGTS:" + std::to_string(kOrigin) +
                     ",LOCAL:00:00:00.000\r\n\r\nNOTE a comment\r\nover two lines\r\n\r\n"
                     "00:01.000 --> 00:03.000 line:90% align:start\r\nfirst\r\nsecond line\r\n\r\n"
                     "00:02.000 --> 00:04.000\r\nanonymous\r\n";
  // The next segment repeats the anonymous cue from its start, and has a broken one.
  auto merged = merge_webvtt({crlf, segment(3, "\n00:00:00.000 --> 00:00:01.000\nanonymous\n"
                                               "\nbroken\n00:00:xx.000 --> 00:00:01.000\nskipped\n"
                                               "\n00:00:00.500 --> 00:00:00.900\nanother\n")},
                             kOrigin, 60);
  CHECK(merged ==
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:03.000 line:90% align:start\nfirst\nsecond line\n\n"
        "00:00:02.000 --> 00:00:04.000\nanonymous\n\n"
        "00:00:03.500 --> 00:00:03.900\nanother\n\n");
}

TEST_CASE("a corrected line keeps its id and the later text") {
  auto merged = merge_webvtt({segment(0, "\nc3\n00:00:01.000 --> 00:00:03.000\nHello wrold\n"),
                              segment(2, "\nc3\n00:00:00.000 --> 00:00:01.000\nHello world\n")},
                             kOrigin, 60);
  CHECK(merged == "WEBVTT\n\nc3\n00:00:01.000 --> 00:00:03.000\nHello world\n\n");
}

TEST_CASE("text that is not WebVTT is ignored, and the relay's own segments merge") {
  using namespace relay::captions;
  // Two 2 s segments as the live subtitle packager writes them, a cue across the boundary.
  const int64_t t0 = 1'700'000'000'000;
  std::vector<Cue> cues = {{41, t0 + 1500, t0 + 2600, "Guten Tag & <willkommen>", "cap"},
                           {42, t0 + 3000, t0 + 3500, "Zweite Zeile", "cap"}};
  std::string first = write_webvtt(SubtitleSpan{t0, t0 + 2000, kOrigin}, cues);
  std::string second = write_webvtt(SubtitleSpan{t0 + 2000, t0 + 4000, kOrigin + 180000}, cues);
  REQUIRE(first.find("c41") != std::string::npos);
  REQUIRE(second.find("c41") != std::string::npos);
  auto merged = merge_webvtt({"not a subtitle file\n\n00:00:00.000 --> 00:00:01.000\nx\n", first, second}, kOrigin, 60);
  CHECK(merged ==
        "WEBVTT\n\n"
        "c41\n00:00:01.500 --> 00:00:02.600\nGuten Tag &amp; &lt;willkommen&gt;\n\n"
        "c42\n00:00:03.000 --> 00:00:03.500\nZweite Zeile\n\n");
}

TEST_CASE("long talks and a wrapped MPEG-TS clock") {
  // The origin just before the 33-bit wrap, the segment just after it.
  const uint64_t origin = (uint64_t{1} << 33) - 90000;
  std::string wrapped = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:90000,LOCAL:00:00:00.000\n\nw\n00:00:00.000 --> 00:00:01.000\nx\n";
  CHECK(merge_webvtt({wrapped}, origin, 60) == "WEBVTT\n\nw\n00:00:02.000 --> 00:00:03.000\nx\n\n");
  std::string late = segment(0, "\nh\n101:02:03.004 --> 101:02:04.000\nlate\n");
  CHECK(merge_webvtt({late}, kOrigin, 400000) == "WEBVTT\n\nh\n101:02:03.004 --> 101:02:04.000\nlate\n\n");
}
