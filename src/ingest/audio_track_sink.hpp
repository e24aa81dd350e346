#pragma once
// One audio-only rendition's way out of the ladder (an [[audio]] track, or the
// floor sound when there are such tracks): the AAC frames its appsink
// receives, with their running time, go to the track's AudioRendition, which
// cuts them where the video's parts begin. Runs on the appsink's streaming thread.
#include <cstddef>
#include <memory>
#include <string>

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <spdlog/logger.h>

#include "gst/handles.hpp"
#include "health/ingest_status.hpp"
#include "hls/audio_rendition.hpp"

namespace relay::ingest {

class AudioTrackSink {
 public:
  // Finds the appsink `sink_name` in `ladder` (throws when missing); `name` is for the log.
  AudioTrackSink(GstBin* ladder, const std::string& sink_name, std::string name, uint32_t bitrate_bps,
                 std::unique_ptr<hls::AudioRendition> rendition, health::IngestStatus& status);
  AudioTrackSink(const AudioTrackSink&) = delete;
  AudioTrackSink& operator=(const AudioTrackSink&) = delete;

  void connect();
  hls::AudioRendition& rendition() { return *rendition_; }
  const hls::AudioRendition& rendition() const { return *rendition_; }

 private:
  static GstFlowReturn on_new_sample(GstAppSink* sink, gpointer self);
  void take(GstSample* sample);

  health::IngestStatus& status_;
  std::shared_ptr<spdlog::logger> log_;
  const std::string name_;
  const uint32_t bitrate_bps_;
  std::unique_ptr<hls::AudioRendition> rendition_;
  gst::Element sink_;
  bool described_ = false;
  bool failed_ = false;
};

}  // namespace relay::ingest
