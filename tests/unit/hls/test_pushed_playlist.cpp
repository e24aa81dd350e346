#include <catch2/catch.hpp>

#include <string>

#include "hls/pushed_playlist.hpp"

using namespace relay::hls;
using Catch::Matchers::Contains;

namespace {

// What the relay's own packager writes with LL-HLS, as a hall relay pushes it.
const char* const kLowLatency =
    "#EXTM3U\n"
    "#EXT-X-VERSION:9\n"
    "#EXT-X-TARGETDURATION:2\n"
    "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,HOLD-BACK=6.000,CAN-SKIP-UNTIL=12.000\n"
    "#EXT-X-PART-INF:PART-TARGET=0.500\n"
    "#EXT-X-MEDIA-SEQUENCE:41\n"
    "#EXT-X-INDEPENDENT-SEGMENTS\n"
    "#EXT-X-MAP:URI=\"init.mp4\"\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z\n"
    "#EXTINF:2.000,\n"
    "seg41.m4s\n"
    "#EXT-X-DISCONTINUITY\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z\n"
    "#EXT-X-PART:DURATION=0.500,URI=\"part42.0.m4s\",INDEPENDENT=YES\n"
    "#EXT-X-PART:DURATION=0.500,URI=\"part42.1.m4s\"\n"
    "#EXT-X-PART:DURATION=0.500,URI=\"part42.2.m4s\"\n"
    "#EXT-X-PART:DURATION=0.500,URI=\"part42.3.m4s\"\n"
    "#EXTINF:2.000,\n"
    "seg42.m4s\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.000Z\n"
    "#EXT-X-PART:DURATION=0.500,URI=\"part43.0.m4s\",INDEPENDENT=YES\n"
    "#EXT-X-PART:DURATION=0.467,URI=\"part43.1.m4s\"\n"
    "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part43.2.m4s\"\n"
    "#EXT-X-RENDITION-REPORT:URI=\"../480p/index.m3u8\",LAST-MSN=43,LAST-PART=1\n";

// What ffmpeg 5.1 sends with -f hls -hls_segment_type fmp4 -hls_flags program_date_time -method PUT
// (EXTINF before PROGRAM-DATE-TIME, an offset without a colon).
const char* const kFfmpeg =
    "#EXTM3U\n"
    "#EXT-X-VERSION:7\n"
    "#EXT-X-TARGETDURATION:2\n"
    "#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXT-X-MAP:URI=\"init.mp4\"\n"
    "#EXTINF:2.000000,\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T04:11:00.049+0000\n"
    "index0.m4s\n"
    "#EXTINF:2.000000,\n"
    "#EXT-X-PROGRAM-DATE-TIME:2026-12-07T04:11:02.049+0000\n"
    "index1.m4s\n"
    "#EXTINF:1.000000,\n"
    "index2.m4s\n"
    "#EXT-X-ENDLIST\n";

std::string with_header(const std::string& body) { return "#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + body; }

}  // namespace

TEST_CASE("a low-latency playlist: segments, parts, the open segment, PDT, MAP and discontinuity") {
  PushedPlaylist p = parse_pushed_playlist(kLowLatency);
  CHECK(p.media_sequence == 41);
  CHECK(p.target_duration_s == 2);
  CHECK(p.part_target_s == Approx(0.5));
  CHECK_FALSE(p.ended);
  REQUIRE(p.segments.size() == 3);

  const PushedSegment& first = p.segments[0];
  CHECK(first.msn == 41);
  CHECK(first.uri == "seg41.m4s");
  CHECK(first.complete());
  CHECK(first.parts.empty());
  CHECK(first.map_uri == "init.mp4");
  CHECK(first.pdt_epoch_ms == 1'767'225'600'000);
  CHECK_FALSE(first.discontinuity);

  const PushedSegment& second = p.segments[1];
  CHECK(second.msn == 42);
  CHECK(second.discontinuity);
  CHECK(second.duration_s == Approx(2.0));
  REQUIRE(second.parts.size() == 4);
  CHECK(second.parts[0].uri == "part42.0.m4s");
  CHECK(second.parts[0].independent);
  CHECK_FALSE(second.parts[1].independent);
  CHECK(second.parts[3].duration_s == Approx(0.5));

  const PushedSegment& open = p.segments[2];
  CHECK(open.msn == 43);
  CHECK_FALSE(open.complete());
  CHECK(open.pdt_epoch_ms == 1'767'225'604'000);
  REQUIRE(open.parts.size() == 2);
  CHECK(open.parts[1].duration_s == Approx(0.467));
  CHECK(open.map_uri == "init.mp4");
}

TEST_CASE("ffmpeg's playlist: EXTINF before PDT, an offset without a colon, ENDLIST") {
  PushedPlaylist p = parse_pushed_playlist(kFfmpeg);
  CHECK(p.media_sequence == 0);
  CHECK(p.part_target_s == 0);
  CHECK(p.ended);
  REQUIRE(p.segments.size() == 3);
  CHECK(p.segments[0].uri == "index0.m4s");
  CHECK(p.segments[0].msn == 0);
  CHECK(p.segments[0].pdt_epoch_ms == parse_iso8601_ms("2026-12-07T04:11:00.049Z"));
  CHECK(p.segments[1].pdt_epoch_ms - p.segments[0].pdt_epoch_ms == 2000);
  CHECK(p.segments[2].pdt_epoch_ms == 0);
  CHECK(p.segments[2].duration_s == Approx(1.0));
  CHECK(p.segments[2].map_uri == "init.mp4");
}

TEST_CASE("CRLF line ends, a byte-order mark, comments and unknown tags are fine") {
  PushedPlaylist p = parse_pushed_playlist(
      "\xEF\xBB\xBF#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n# a comment\r\n#EXT-X-SOMETHING-NEW:A=1\r\n\r\n"
      "#EXTINF:1.5,title\r\nseg1.m4s\r\n");
  REQUIRE(p.segments.size() == 1);
  CHECK(p.segments[0].uri == "seg1.m4s");
  CHECK(p.segments[0].duration_s == Approx(1.5));
}

TEST_CASE("garbage is refused with the line and what is wrong") {
  CHECK_THROWS_WITH(parse_pushed_playlist(""), Contains("#EXTM3U"));
  CHECK_THROWS_WITH(parse_pushed_playlist("hello\n"), Contains("line 1") && Contains("#EXTM3U"));
  CHECK_THROWS_WITH(parse_pushed_playlist(std::string("\x00\xff\xfe garbage\n#EXTM3U\n", 20)), Contains("line 1"));
  CHECK_THROWS_WITH(parse_pushed_playlist("#EXTM3U\n#EXTINF:2,\nseg1.m4s\n"), Contains("TARGETDURATION"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("seg1.m4s\n")), Contains("line 3") && Contains("#EXTINF"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:abc,\nseg1.m4s\n")), Contains("line 3") && Contains("abc"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:-1,\nseg1.m4s\n")), Contains("duration"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:2,\n")), Contains("no URI"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:2,\n../../etc/passwd\n")), Contains("plain object name"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:2,\nhttp://evil/seg.m4s\n")),
                    Contains("plain object name"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:2,\nseg1.m4s?x=1\n")), Contains("plain object name"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXT-X-PART:DURATION=0.5\n")), Contains("URI and DURATION"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXT-X-PART:URI=\"p.m4s,DURATION=0.5\n")),
                    Contains("unterminated"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXT-X-MAP:BYTERANGE=\"1@0\"\n")), Contains("no URI"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:2,\ns.m4s\n")),
                    Contains("ISO 8601"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n")), Contains("whole playlist"));
  CHECK_THROWS_WITH(parse_pushed_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n"),
                    Contains("master playlist"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:2,\ns1.m4s\n#EXT-X-MEDIA-SEQUENCE:4\n")),
                    Contains("before the first segment"));
}

TEST_CASE("huge numbers are refused, not wrapped") {
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXT-X-MEDIA-SEQUENCE:99999999999999999999999999\n")),
                    Contains("MEDIA-SEQUENCE"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n")),
                    Contains("MEDIA-SEQUENCE"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXT-X-MEDIA-SEQUENCE:-1\n")), Contains("MEDIA-SEQUENCE"));
  CHECK_THROWS_WITH(parse_pushed_playlist("#EXTM3U\n#EXT-X-TARGETDURATION:4294967297\n"), Contains("TARGETDURATION"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:1e308,\ns.m4s\n")), Contains("duration"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:" + std::string(400, '9') + ",\ns.m4s\n")),
                    Contains("duration"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:inf,\ns.m4s\n")), Contains("duration"));
  CHECK_THROWS_WITH(parse_pushed_playlist(with_header("#EXTINF:nan,\ns.m4s\n")), Contains("duration"));
  // The largest accepted sequence number still leaves room to count on.
  PushedPlaylist p = parse_pushed_playlist(with_header("#EXT-X-MEDIA-SEQUENCE:4611686018427387904\n#EXTINF:2,\ns.m4s\n"));
  CHECK(p.segments.at(0).msn == 4611686018427387904ull);
}

TEST_CASE("a playlist larger than a live one could be is refused before it is read") {
  std::string big = with_header("");
  while (big.size() <= kMaxPushedPlaylistBytes) big += "#EXTINF:2,\nseg.m4s\n";
  CHECK_THROWS_WITH(parse_pushed_playlist(big), Contains("bytes"));
}

TEST_CASE("object names: plain file names only") {
  CHECK(valid_object_name("seg42.m4s"));
  CHECK(valid_object_name("a1b2-c3_d4.part42.0.m4s"));
  CHECK_FALSE(valid_object_name(""));
  CHECK_FALSE(valid_object_name(".."));
  CHECK_FALSE(valid_object_name("."));
  CHECK_FALSE(valid_object_name("a/b.m4s"));
  CHECK_FALSE(valid_object_name("a b.m4s"));
  CHECK_FALSE(valid_object_name(std::string(kMaxObjectNameBytes + 1, 'a')));
}

TEST_CASE("ISO 8601 dates with Z, offsets and fractions") {
  CHECK(parse_iso8601_ms("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_iso8601_ms("2026-01-01T00:00:00.000Z") == 1'767'225'600'000);
  CHECK(parse_iso8601_ms("2026-01-01T01:00:00.5+01:00") == 1'767'225'600'500);
  CHECK(parse_iso8601_ms("2025-12-31T23:00:00.123456-0100") == 1'767'225'600'123);
  CHECK(parse_iso8601_ms("2026-01-01 00:00:00Z") == -1);
  CHECK(parse_iso8601_ms("2026-13-01T00:00:00Z") == -1);
  CHECK(parse_iso8601_ms("2026-01-01T00:00:00") == -1);
  CHECK(parse_iso8601_ms("2026-01-01T00:00:00.Z") == -1);
  CHECK(parse_iso8601_ms("2026-01-01T00:00:00Zjunk") == -1);
}
