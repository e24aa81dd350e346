#include <catch2/catch.hpp>

#include <gst/gst.h>

#include "gst/init.hpp"
#include "ingest/pipeline_builder.hpp"

using namespace relay;

namespace {

// GStreamer builds the elements and sets every property of the description,
// without starting anything: a misspelt property or value fails here, not live.
std::string parse_error(const std::string& text) {
  GError* error = nullptr;
  GstElement* p = gst_parse_launch_full(text.c_str(), nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  std::string message = error ? error->message : "";
  if (error) g_error_free(error);
  if (p) gst_object_unref(p);
  return message;
}

}  // namespace

TEST_CASE("every pipeline the builder makes is one GStreamer accepts") {
  gst::init_and_check({});
  config::Config cfg;
  cfg.ingest.pipelines_dir = std::string(RELAY_SOURCE_DIR) + "/pipelines";
  cfg.ingest.srt_passphrase = "a long enough phrase";
  cfg.ingest.srt_streamid = "hall-a";
  cfg.ingest.v4l2_format = "MJPG";
  cfg.ingest.v4l2_width = 1280;
  for (const std::string uri : {"test:", "file:///media/talk.mp4", "srt://:9000?mode=listener&latency=200",
                                "srt://127.0.0.1:9000", "rtsp://user:pw@127.0.0.1:8554/test",
                                "rtmp://127.0.0.1/live/hall", "v4l2:///dev/video0"}) {
    INFO(uri);
    auto text = ingest::build_source_pipeline(cfg, config::parse_source_uri(uri), "ch-primary");
    INFO(text);
    CHECK(parse_error(text) == "");
  }
  for (const std::string container : {"fmp4", "mpegts"}) {
    cfg.hls.container = container;
    for (int inputs : {1, 2}) {
      auto text = ingest::build_ladder_pipeline(cfg, "ch", inputs);
      INFO(text);
      CHECK(parse_error(text) == "");
    }
  }
  cfg.ingest.slate_image = "/srv/slate.png";
  auto text = ingest::build_ladder_pipeline(cfg, "ch", 1);
  INFO(text);
  CHECK(parse_error(text) == "");
}

TEST_CASE("[[audio]] tracks' source pipelines and ladder branches are ones GStreamer accepts") {
  gst::init_and_check({});
  config::Config cfg;
  cfg.ingest.pipelines_dir = std::string(RELAY_SOURCE_DIR) + "/pipelines";
  cfg.audio = {{"English", "en", "srt://:9001?mode=listener", 64, "audio-1"},
               {"Français", "fr", "rtsp://127.0.0.1:8554/fr", 0, "audio-2"},
               {"Español", "es", "alsa://hw:1,0", 0, "audio-3"},
               {"Italiano", "it", "test:", 0, "audio-4"},
               {"Deutsch", "de", "channel:2", 0, "audio-5"}};
  for (size_t i = 0; i + 1 < cfg.audio.size(); ++i) {
    auto text = ingest::build_audio_source_pipeline(cfg, i, "ch");
    INFO(text);
    CHECK(parse_error(text) == "");
  }
  auto text = ingest::build_ladder_pipeline(cfg, "ch", 1);
  INFO(text);
  CHECK(parse_error(text) == "");
}
