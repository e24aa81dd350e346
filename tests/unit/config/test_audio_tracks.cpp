#include <string>

#include <catch2/catch.hpp>

#include "config/config.hpp"
#include "config/source_uri.hpp"

using namespace relay::config;
using Catch::Matchers::Contains;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "relay.toml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  FAIL("expected a ConfigError for:\n" << text);
  return {};
}

const char* kTwoTracks = R"toml(
[encoder]
floor_audio_name = "Deutsch (Saal)"
floor_audio_language = "de"

[[audio]]
name = "English (interpretation)"
language = "en"
source = "srt://:9001?mode=listener&passphrase=0123456789abcdef"
bitrate_kbps = 64

[[audio]]
name = "Français"
language = "fr-CH"
source = "channel:2"
)toml";

}  // namespace

TEST_CASE("[[audio]] tracks are read in order, named audio-1, audio-2, ...") {
  const Config c = parse_config(kTwoTracks, "relay.toml");
  REQUIRE(c.audio.size() == 2);
  CHECK(c.audio[0].name == "English (interpretation)");
  CHECK(c.audio[0].language == "en");
  CHECK(c.audio[0].bitrate_kbps == 64);
  CHECK(c.audio[0].rendition == "audio-1");
  CHECK(c.audio[1].language == "fr-CH");
  CHECK(c.audio[1].bitrate_kbps == 0);
  CHECK(c.audio[1].rendition == "audio-2");
  CHECK(c.encoder.floor_audio_name == "Deutsch (Saal)");
  CHECK(c.encoder.floor_audio_language == "de");
  CHECK(parse_config("", "relay.toml").audio.empty());
}

TEST_CASE("audio sources: every accepted form, and clear errors") {
  CHECK(parse_audio_source("test:").kind == AudioSourceKind::test);
  CHECK(parse_audio_source("test:880").tone_hz == 880);
  CHECK(parse_audio_source("channel:2").channel == 2);
  CHECK(parse_audio_source("alsa://hw:1,0").device == "hw:1,0");
  CHECK(parse_audio_source("srt://:9001?mode=listener").uri.srt_listener());
  CHECK(parse_audio_source("rtsp://cam.local/audio").kind == AudioSourceKind::rtsp);
  CHECK_THROWS_WITH(parse_audio_source("alsa://"), Contains("names no ALSA device"));
  CHECK_THROWS_WITH(parse_audio_source("alsa://hw:1,0;rm"), Contains("names no ALSA device"));
  CHECK_THROWS_WITH(parse_audio_source("channel:0"), Contains("a channel number 1..64"));
  CHECK_THROWS_WITH(parse_audio_source("test:5"), Contains("tone frequency"));
  CHECK_THROWS_WITH(parse_audio_source("file:///a.wav"), Contains("not an audio source"));
  CHECK_THROWS_WITH(parse_audio_source("rtmp://h/live/x"), Contains("not an audio source"));
}

TEST_CASE("[[audio]] mistakes are errors with the line") {
  CHECK_THAT(error_of("[[audio]]\nname = \"E\"\nlanguage = \"English\"\nsource = \"test:\"\n"),
             Contains("relay.toml:3") && Contains("not a BCP 47 language tag"));
  CHECK_THAT(error_of("[[audio]]\nname = \"E\"\nlanguage = \"en\"\n"), Contains("missing key 'source'"));
  CHECK_THAT(error_of("[[audio]]\nname = \"E\"\nlanguage = \"en\"\nsource = \"mic\"\n"),
             Contains("relay.toml:4") && Contains("not an audio source"));
  CHECK_THAT(error_of("[[audio]]\nname = \"E\"\nlanguage = \"en\"\nsource = \"test:\"\nvolume = 3\n"),
             Contains("unknown key 'audio[0].volume'") && Contains("known keys in [[audio]]"));
  CHECK_THAT(error_of("[[audio]]\nname = \"say \\\"hi\\\"\"\nlanguage = \"en\"\nsource = \"test:\"\n"),
             Contains("not a usable track name"));
  CHECK_THAT(error_of("[audio]\nname = \"E\"\n"), Contains("with double brackets"));
  CHECK_THAT(error_of("[[audio]]\nname = \"E\"\nlanguage = \"en\"\nsource = \"test:\"\n"
                      "[[audio]]\nname = \"E\"\nlanguage = \"fr\"\nsource = \"test:\"\n"),
             Contains("relay.toml:6") && Contains("names must be unique"));
  CHECK_THAT(error_of("[encoder]\nfloor_audio_language = \"DE\"\n"), Contains("encoder.floor_audio_language"));
}

TEST_CASE("[[audio]] checks across keys") {
  CHECK_THAT(error_of("[encoder]\naudio_channels = 1\n[[audio]]\nname = \"E\"\nlanguage = \"en\"\nsource = \"channel:2\"\n"),
             Contains("relay.toml:6") && Contains("encoder.audio_channels"));
  CHECK_THAT(error_of("[ingest]\nsource = \"srt://127.0.0.1:9000?mode=listener\"\n"
                      "[[audio]]\nname = \"E\"\nlanguage = \"en\"\nsource = \"srt://127.0.0.1:9000?mode=listener\"\n"),
             Contains("listens on SRT port 9000"));
  CHECK_THAT(error_of("[hls]\ncontainer = \"mpegts\"\n[[audio]]\nname = \"E\"\nlanguage = \"en\"\nsource = \"test:\"\n"),
             Contains("hls.container"));
}
