#pragma once
// The ladder's two input-selectors, video_select and audio_select: which branch
// is on air (selector pads sink_0 for the primary, sink_1 for the backup, the
// slate on the pad after the inputs), and the pad probes on their outputs that
// keep time regular across switches (see time_grid.hpp). The probes run on the
// selectors' streaming threads and touch only the grids and atomics here.
#include <atomic>
#include <memory>

#include <gst/gst.h>
#include <spdlog/logger.h>

#include "config/config.hpp"
#include "gst/handles.hpp"
#include "ingest/supervisor.hpp"
#include "ingest/time_grid.hpp"

namespace relay::ingest {

class Selectors {
 public:
  // Finds both selectors in `ladder`, built for `input_count` inputs, and puts
  // the probes on their outputs; throws when the pipeline lacks them.
  Selectors(GstBin* ladder, const config::Config& cfg, int input_count);
  Selectors(const Selectors&) = delete;
  Selectors& operator=(const Selectors&) = delete;

  // Puts `output` on air.
  void select(Output output);

 private:
  static GstPadProbeReturn on_video(GstPad*, GstPadProbeInfo* info, gpointer grid);
  static GstPadProbeReturn on_audio(GstPad*, GstPadProbeInfo* info, gpointer self);
  static GstPadProbeReturn on_event(GstPad*, GstPadProbeInfo* info, gpointer segment_sent);

  const int input_count_;
  std::shared_ptr<spdlog::logger> log_;
  gst::Element video_select_, audio_select_;
  FrameGrid frame_grid_;
  SampleGrid sample_grid_;
  const int bytes_per_sample_frame_;
  std::atomic<bool> video_segment_sent_{false}, audio_segment_sent_{false};
};

}  // namespace relay::ingest
