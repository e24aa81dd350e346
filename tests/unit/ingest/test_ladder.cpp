#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <gst/gst.h>

#include "gst/handles.hpp"
#include "gst/init.hpp"
#include "health/ingest_status.hpp"
#include "hls/master.hpp"
#include "hls/store.hpp"
#include "ingest/ladder.hpp"

using namespace relay;

// Built from the shipped pipelines/ and never played: every element the relay
// looks up by name (selectors, muxers and their video pads, appsinks) is there.
TEST_CASE("the ladder finds a sink for every rung in both containers") {
  gst::init_and_check({});
  config::Config cfg;
  cfg.ingest.pipelines_dir = std::string(RELAY_SOURCE_DIR) + "/pipelines";
  std::vector<std::string> names;
  std::vector<hls::VariantSpec> specs;
  for (const auto& r : cfg.encoder.renditions) {
    names.push_back(r.name);
    specs.push_back({r.name, r.bitrate_kbps});
  }
  hls::Store store(names);
  hls::MasterPlaylist master(specs, store);
  health::IngestStatus status("test:");
  auto clock = gst::ObjectPtr<GstClock>::adopt(gst_system_clock_obtain());
  for (const std::string container : {"fmp4", "mpegts"}) {
    for (const std::string backup : {"", "srt://:9001?mode=listener"}) {
      INFO(container << " backup=" << backup);
      cfg.hls.container = container;
      cfg.ingest.backup_source = backup;
      ingest::Ladder ladder(cfg, "ch", clock.get(), store, master, status);
      CHECK(ladder.rendition_count() == cfg.encoder.renditions.size());
      ladder.selectors().select(ingest::Output::slate);
    }
  }
}
