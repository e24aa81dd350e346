#pragma once
// One rung's way out of the ladder into its HLS packager: the first video buffer
// into its muxer anchors the rendition's program-date-time, and every chunk its
// appsink receives is pushed into the packager. Both run on the ladder's
// streaming threads; a packaging fault stops this rendition only.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <spdlog/logger.h>

#include "gst/handles.hpp"
#include "health/ingest_status.hpp"
#include "hls/master.hpp"
#include "hls/packager.hpp"
#include "hls/store.hpp"

namespace relay::ingest {

class RenditionSink {
 public:
  // Finds mux_<name> and sink_<name> in `ladder` (throws when either is missing)
  // and makes the rendition's packager, the `index`th of the master playlist.
  RenditionSink(GstBin* ladder, hls::PackagerOptions options, size_t index, hls::Store& store,
                hls::MasterPlaylist& master, health::IngestStatus& status);
  // Hands the muxer's output to `output` instead of a packager of its own (the
  // push receiver's slate goes into the packagers of the pushed ladder). The
  // first chunk is the init section; no PDT is anchored here.
  using Output = std::function<void(std::string_view)>;
  RenditionSink(GstBin* ladder, const hls::PackagerOptions& options, Output output, health::IngestStatus& status);
  RenditionSink(const RenditionSink&) = delete;
  RenditionSink& operator=(const RenditionSink&) = delete;

  // Starts listening to the muxer's input and the appsink.
  void connect();
  // Running time (ns) of the first video buffer into the muxer, its decode time
  // zero; -1 before it arrived.
  int64_t first_frame_running_ns() const { return first_frame_running_ns_.load(); }

 private:
  static GstPadProbeReturn on_mux_input(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  static GstFlowReturn on_new_sample(GstAppSink* sink, gpointer self);
  void find_elements(GstBin* ladder, bool mpegts);
  void package(std::string_view bytes);

  health::IngestStatus& status_;
  std::shared_ptr<spdlog::logger> log_;
  const std::string name_;
  std::unique_ptr<hls::Packager> packager_;  // null when output_ takes the bytes
  Output output_;
  gst::Element sink_;
  gst::Pad mux_video_pad_;
  std::atomic<int64_t> first_frame_epoch_ms_{0};
  std::atomic<int64_t> first_frame_running_ns_{-1};
  std::atomic<bool> failed_{false};
};

}  // namespace relay::ingest
