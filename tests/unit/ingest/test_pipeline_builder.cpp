#include <catch2/catch.hpp>

#include <regex>

#include "ingest/pipeline_builder.hpp"

using namespace relay;

namespace {
config::Config shipped_defaults() {
  config::Config cfg;
  cfg.ingest.pipelines_dir = std::string(RELAY_SOURCE_DIR) + "/pipelines";
  return cfg;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("fill_template replaces placeholders, drops comments and rejects unknown ones") {
  CHECK(ingest::fill_template("# comment\na={x} ! b={y}\n", {{"x", "1"}, {"y", "two"}}, "t") == "a=1 ! b=two\n");
  CHECK_THROWS_WITH(ingest::fill_template("a={nope}", {}, "tmpl"), Catch::Contains("tmpl: unknown placeholder {nope}"));
  CHECK_THROWS_WITH(ingest::fill_template("a={open", {}, "tmpl"), Catch::Contains("unclosed"));
}

TEST_CASE("the test source is 1080p30 with a burned-in wall clock and a tone, normalised to the top rung") {
  auto cfg = shipped_defaults();
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK(t.source.find("videotestsrc is-live=true pattern=ball") != std::string::npos);
  CHECK(t.source.find("width=1920,height=1080,framerate=30/1") != std::string::npos);
  CHECK(t.source.find("clockoverlay") != std::string::npos);
  CHECK(t.source.find("audiotestsrc is-live=true") != std::string::npos);
  CHECK(t.source.find("format=I420,width=1280,height=720,framerate=30/1") != std::string::npos);
  CHECK(count(t.source, "channel=ch ") == 2);
  CHECK(t.source.find('{') == std::string::npos);
}

TEST_CASE("a file source decodes the URI, percent-encoded, and syncs to the clock") {
  auto cfg = shipped_defaults();
  cfg.ingest.source = "file:///media/talk 1.mp4";
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK(t.source.find("uridecodebin uri=\"file:///media/talk%201.mp4\"") != std::string::npos);
  CHECK(count(t.source, " sync=true") == 2);
  // The video sink prerolls, so the flushing seek that loops the file gives the
  // source a new base time (async=false left every frame after a loop late and
  // dropped); the audio sink does not, so a file without sound still starts.
  CHECK(t.source.find("intervideosink name=source_video_sink channel=ch sync=true async=true") != std::string::npos);
  CHECK(t.source.find("interaudiosink channel=ch sync=true async=false") != std::string::npos);
}

TEST_CASE("the ladder has one aligned encoder, muxer and appsink per rendition") {
  auto cfg = shipped_defaults();
  auto t = ingest::build_pipelines(cfg, "ch");
  for (auto name : {"720p", "480p", "360p"}) {
    CHECK(t.ladder.find(std::string("x264enc name=encoder_") + name) != std::string::npos);
    CHECK(t.ladder.find(std::string("mp4mux name=mux_") + name + " fragment-duration=500") != std::string::npos);
    CHECK(t.ladder.find(std::string("appsink name=sink_") + name) != std::string::npos);
  }
  // Fixed GOP of one segment, no scene cuts, no B-frames: keyframes line up.
  CHECK(count(t.ladder, "key-int-max=60 bframes=0") == 3);
  CHECK(count(t.ladder, "scenecut=0") == 3);
  CHECK(t.ladder.find("bitrate=2800 vbv-buf-capacity=500") != std::string::npos);
  CHECK(t.ladder.find("bitrate=600 vbv-buf-capacity=500") != std::string::npos);
  // Only the lower rungs scale; the top one is the normalised input size.
  CHECK(count(t.ladder, "videoscale") == 2);
  CHECK(t.ladder.find("video/x-h264,profile=high") != std::string::npos);
  CHECK(t.ladder.find("avenc_aac bitrate=128000") != std::string::npos);
  CHECK(t.ladder.find('{') == std::string::npos);
}

TEST_CASE("GOP and fragment follow the segment and part durations") {
  auto cfg = shipped_defaults();
  cfg.hls.segment_duration_s = 1.0;
  cfg.hls.part_duration_s = 0.25;
  cfg.ingest.framerate = 25;
  cfg.encoder.tune = "";
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK(t.ladder.find("key-int-max=25") != std::string::npos);
  CHECK(t.ladder.find("fragment-duration=250") != std::string::npos);
  CHECK(t.ladder.find("tune=") == std::string::npos);
}

TEST_CASE("unsupported source schemes and missing templates are clear errors") {
  auto cfg = shipped_defaults();
  cfg.ingest.source = "gopher://x";
  CHECK_THROWS_WITH(ingest::build_pipelines(cfg, "ch"), Catch::Contains("unsupported ingest.source 'gopher://x'"));
  cfg = shipped_defaults();
  cfg.ingest.pipelines_dir = "/nonexistent";
  CHECK_THROWS_WITH(ingest::build_pipelines(cfg, "ch"), Catch::Contains("cannot read pipeline template"));
}

TEST_CASE("container = mpegts muxes each rung with mpegtsmux, same encoders") {
  auto cfg = shipped_defaults();
  cfg.hls.container = "mpegts";
  auto t = ingest::build_pipelines(cfg, "ch");
  CHECK(count(t.ladder, "mpegtsmux name=mux_") == 3);
  CHECK(t.ladder.find("mp4mux") == std::string::npos);
  CHECK(count(t.ladder, "key-int-max=60 bframes=0") == 3);
  CHECK(t.ladder.find("mux_720p.sink_65") != std::string::npos);
}
