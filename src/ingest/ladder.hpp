#pragma once
// The encoder side of the ingest: one pipeline (pipelines/ladder.pipeline) on the
// ingest's clock, holding the input selectors, one RenditionSink per rung and the
// technician's thumbnail. Its bus is watched on the ingest's GLib thread: errors,
// warnings and the programme's audio level go to health.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <glib.h>
#include <gst/gst.h>
#include <spdlog/logger.h>

#include "config/config.hpp"
#include "gst/handles.hpp"
#include "health/ingest_status.hpp"
#include "hls/master.hpp"
#include "hls/packager.hpp"
#include "hls/store.hpp"
#include "ingest/audio_track_sink.hpp"
#include "ingest/rendition_sink.hpp"
#include "ingest/selectors.hpp"

namespace relay::ingest {

// The packager settings of the `rendition`th rung: the HLS options, and its share
// of hls.max_memory_mb. Pushed media (ingest.source = "push:") is packaged the same way.
hls::PackagerOptions packager_options(const config::Config& cfg, size_t rendition, const std::string& instance);

// The floor sound's audio-only rendition, which exists when [[audio]] tracks do.
inline constexpr const char* kFloorRendition = "audio-0";

class Ladder {
 public:
  // Builds the pipeline for the `channel` the inputs write to; throws with one
  // clear line when the text does not parse or lacks an element the relay needs.
  Ladder(const config::Config& cfg, const std::string& channel, GstClock* clock, hls::Store& store,
         hls::MasterPlaylist& master, health::IngestStatus& status);
  // A slate-only ladder (no inputs: the selectors show the slate), its rungs'
  // muxer output handed to `outputs` (one per rung) instead of packagers.
  Ladder(const config::Config& cfg, const std::string& channel, GstClock* clock,
         std::vector<RenditionSink::Output> outputs, health::IngestStatus& status);
  Ladder(const Ladder&) = delete;
  Ladder& operator=(const Ladder&) = delete;

  void watch_bus(GMainContext* context);
  // Throws when the pipeline cannot start.
  void play();
  // To NULL, and the bus watch removed; call with the GLib loop stopped.
  void stop();

  Selectors& selectors() { return selectors_; }
  size_t rendition_count() const { return renditions_.size(); }
  // Hands the newest thumbnail, if one is waiting, to health.
  void take_thumbnail();

 private:
  static gboolean on_message(GstBus*, GstMessage* msg, gpointer self);
  gst::Element parse(const config::Config& cfg, const std::string& channel, int inputs);
  void add_renditions(const config::Config& cfg, hls::Store& store, hls::MasterPlaylist& master);
  void add_audio_tracks(const config::Config& cfg, const std::string& instance, hls::Store& store,
                        hls::MasterPlaylist& master);
  void on_video_part(const hls::PartCut& cut);

  health::IngestStatus& status_;
  std::shared_ptr<spdlog::logger> log_;
  gst::Element pipeline_;
  gst::Element thumbnail_;  // JPEG pictures for /tech; null when the ladder text has none
  Selectors selectors_;
  std::vector<std::unique_ptr<RenditionSink>> renditions_;
  std::vector<std::unique_ptr<AudioTrackSink>> audio_tracks_;  // [[audio]], in config order
  GMainContext* context_ = nullptr;
  guint bus_watch_ = 0;
};

}  // namespace relay::ingest
