#include "ingest/rendition_sink.hpp"

#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"

namespace relay::ingest {

RenditionSink::RenditionSink(GstBin* ladder, hls::PackagerOptions options, size_t index, hls::Store& store,
                             hls::MasterPlaylist& master, health::IngestStatus& status)
    : status_(status), log_(relay::log::get("ingest")), name_(options.name) {
  const bool mpegts = options.mpegts;
  packager_ = std::make_unique<hls::Packager>(std::move(options), index, store, &master);
  find_elements(ladder, mpegts);
}

RenditionSink::RenditionSink(GstBin* ladder, const hls::PackagerOptions& options, Output output,
                             health::IngestStatus& status)
    : status_(status), log_(relay::log::get("ingest")), name_(options.name), output_(std::move(output)) {
  find_elements(ladder, options.mpegts);
}

void RenditionSink::find_elements(GstBin* ladder, bool mpegts) {
  sink_ = gst::Element::adopt(gst_bin_get_by_name(ladder, ("sink_" + name_).c_str()));
  auto mux = gst::Element::adopt(gst_bin_get_by_name(ladder, ("mux_" + name_).c_str()));
  if (!sink_ || !mux) throw std::runtime_error("ladder pipeline lacks mux_/sink_ for " + name_);
  const char* video_pad = mpegts ? "sink_65" : "video_0";
  mux_video_pad_ = gst::Pad::adopt(gst_element_get_static_pad(mux.get(), video_pad));
  if (!mux_video_pad_) throw std::runtime_error(fmt::format("mux_{} has no {} pad", name_, video_pad));
}

void RenditionSink::connect() {
  gst_pad_add_probe(mux_video_pad_.get(), GST_PAD_PROBE_TYPE_BUFFER, &RenditionSink::on_mux_input, this, nullptr);
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = &RenditionSink::on_new_sample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink_.get()), &callbacks, this, nullptr);
}

// The first video buffer into a muxer is decode time zero of its fragments;
// its capture wall clock anchors every PDT of the rendition.
GstPadProbeReturn RenditionSink::on_mux_input(GstPad* pad, GstPadProbeInfo* info, gpointer user) {
  auto* self = static_cast<RenditionSink*>(user);
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  GstElement* mux = GST_ELEMENT(gst_pad_get_parent(pad));
  if (mux && buf && GST_BUFFER_DTS_OR_PTS(buf) != GST_CLOCK_TIME_NONE) {
    GstEvent* seg_event = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
    if (seg_event) {
      const GstSegment* segment = nullptr;
      gst_event_parse_segment(seg_event, &segment);
      guint64 running = gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_DTS_OR_PTS(buf));
      GstClockTime base = gst_element_get_base_time(mux);
      if (running != GST_CLOCK_TIME_NONE) {
        self->first_frame_running_ns_.store(static_cast<int64_t>(running));
        self->first_frame_epoch_ms_.store(static_cast<int64_t>((base + running) / GST_MSECOND));
      }
      gst_event_unref(seg_event);
    }
  }
  if (mux) gst_object_unref(mux);
  return GST_PAD_PROBE_REMOVE;
}

GstFlowReturn RenditionSink::on_new_sample(GstAppSink* sink, gpointer user) {
  auto* self = static_cast<RenditionSink*>(user);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  GstBuffer* buf = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (!self->failed_ && buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
    self->package(std::string_view(reinterpret_cast<const char*>(map.data), map.size));
    gst_buffer_unmap(buf, &map);
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

void RenditionSink::package(std::string_view bytes) {
  try {
    if (output_) {
      output_(bytes);
      return;
    }
    if (!packager_->has_time_origin()) {
      auto origin = first_frame_epoch_ms_.load();
      packager_->set_time_origin(origin ? origin : now_epoch_ms());
    }
    packager_->push(bytes);
  } catch (const std::exception& e) {
    // A packaging fault stops this rendition only; the others and the edge go on.
    failed_ = true;
    log_->error("rendition {}: packaging failed: {}", name_, e.what());
    status_.record_error("packager", e.what());
  }
}

}  // namespace relay::ingest
