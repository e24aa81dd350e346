#include <catch2/catch.hpp>

#include <string>

#include <gst/gst.h>

#include "gst/handles.hpp"
#include "gst/init.hpp"
#include "ingest/selectors.hpp"

using namespace relay;

namespace {

std::string active_pad(GstBin* bin, const char* selector) {
  auto element = gst::Element::adopt(gst_bin_get_by_name(bin, selector));
  GstPad* pad = nullptr;
  g_object_get(element.get(), "active-pad", &pad, nullptr);
  auto held = gst::Pad::adopt(pad);
  return held ? GST_PAD_NAME(held.get()) : "";
}

}  // namespace

TEST_CASE("the selectors put the primary or the backup or the slate on air") {
  gst::init_and_check({});
  // Two inputs and the slate, as the ladder links them: sink_0, sink_1, sink_2.
  std::string text;
  for (int i = 0; i < 3; ++i) {
    text += "videotestsrc ! video_select.sink_" + std::to_string(i) + " ";
    text += "audiotestsrc ! audio_select.sink_" + std::to_string(i) + " ";
  }
  text += "input-selector name=video_select ! fakesink input-selector name=audio_select ! fakesink";
  GError* error = nullptr;
  auto pipeline = gst::Element::adopt(gst_parse_launch(text.c_str(), &error));
  REQUIRE(error == nullptr);
  auto* bin = GST_BIN(pipeline.get());

  config::Config cfg;
  ingest::Selectors selectors(bin, cfg, 2);
  for (auto [output, pad] : {std::pair{ingest::Output::slate, "sink_2"}, std::pair{ingest::Output::backup, "sink_1"},
                             std::pair{ingest::Output::primary, "sink_0"}}) {
    selectors.select(output);
    CHECK(active_pad(bin, "video_select") == pad);
    CHECK(active_pad(bin, "audio_select") == pad);
  }
}

TEST_CASE("selectors refuse a ladder without them") {
  gst::init_and_check({});
  auto pipeline = gst::Element::adopt(gst_parse_launch("videotestsrc ! fakesink", nullptr));
  config::Config cfg;
  CHECK_THROWS_WITH(ingest::Selectors(GST_BIN(pipeline.get()), cfg, 1),
                    "the ladder pipeline lacks video_select/audio_select");
}
