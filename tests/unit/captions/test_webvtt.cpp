#include <catch2/catch.hpp>

#include "captions/webvtt.hpp"

using namespace relay::captions;

namespace {
constexpr int64_t T0 = 1'767'225'600'000;
}

TEST_CASE("a subtitle file starts with WEBVTT and maps local zero to the video's time") {
  auto text = write_webvtt({T0, T0 + 2'000, 180'000}, {});
  CHECK(text == "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:180000,LOCAL:00:00:00.000\n");
}

TEST_CASE("cues are written in local time from the file's start, with their id") {
  std::vector<Cue> cues{{7, T0 + 500, T0 + 1'750, "Hallo", "A"}};
  auto text = write_webvtt({T0, T0 + 2'000, 90'000}, cues);
  CHECK(text.find("\nc7\n00:00:00.500 --> 00:00:01.750\nHallo\n") != std::string::npos);
}

TEST_CASE("a cue over a boundary is in both files, from 00:00:00.000 in the second, with the same id") {
  std::vector<Cue> cues{{3, T0 + 1'500, T0 + 3'000, "über die Grenze", "A"}};
  auto first = write_webvtt({T0, T0 + 2'000, 0}, cues);
  auto second = write_webvtt({T0 + 2'000, T0 + 4'000, 180'000}, cues);
  auto third = write_webvtt({T0 + 4'000, T0 + 6'000, 360'000}, cues);
  CHECK(first.find("c3\n00:00:01.500 --> 00:00:03.000\n") != std::string::npos);
  CHECK(second.find("c3\n00:00:00.000 --> 00:00:01.000\n") != std::string::npos);
  CHECK(third.find("c3") == std::string::npos);
}

TEST_CASE("cue text is escaped: no markup gets through") {
  CHECK(escape_cue_text("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d");
  CHECK(escape_cue_text("<b>bold</b> --> x") == "&lt;b&gt;bold&lt;/b&gt; --&gt; x");
  std::vector<Cue> cues{{1, T0, T0 + 1'000, "<c.red>rot</c>", "A"}};
  auto text = write_webvtt({T0, T0 + 2'000, 0}, cues);
  CHECK(text.find('<') == std::string::npos);
  CHECK(text.find("&lt;c.red&gt;rot&lt;/c&gt;") != std::string::npos);
}

TEST_CASE("timestamps are hh:mm:ss.mmm") {
  CHECK(format_timestamp(0) == "00:00:00.000");
  CHECK(format_timestamp(3'723'004) == "01:02:03.004");
  CHECK(format_timestamp(-5) == "00:00:00.000");
}
