#include "ingest/audio_track_sink.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "common/log.hpp"

namespace relay::ingest {

AudioTrackSink::AudioTrackSink(GstBin* ladder, const std::string& sink_name, std::string name, uint32_t bitrate_bps,
                               std::unique_ptr<hls::AudioRendition> rendition, health::IngestStatus& status)
    : status_(status),
      log_(relay::log::get("ingest")),
      name_(std::move(name)),
      bitrate_bps_(bitrate_bps),
      rendition_(std::move(rendition)),
      sink_(gst::Element::adopt(gst_bin_get_by_name(ladder, sink_name.c_str()))) {
  if (!sink_) throw std::runtime_error(fmt::format("ladder pipeline lacks {}", sink_name));
}

void AudioTrackSink::connect() {
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = &AudioTrackSink::on_new_sample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink_.get()), &callbacks, this, nullptr);
}

GstFlowReturn AudioTrackSink::on_new_sample(GstAppSink* sink, gpointer user) {
  auto* self = static_cast<AudioTrackSink*>(user);
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  if (!self->failed_) self->take(sample);
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

void AudioTrackSink::take(GstSample* sample) {
  try {
    if (!described_) {
      // aacparse's raw output carries the AudioSpecificConfig as codec_data.
      GstCaps* caps = gst_sample_get_caps(sample);
      const GstStructure* s = caps && gst_caps_get_size(caps) ? gst_caps_get_structure(caps, 0) : nullptr;
      int rate = 0, channels = 0;
      const GValue* data = s ? gst_structure_get_value(s, "codec_data") : nullptr;
      if (!s || !gst_structure_get_int(s, "rate", &rate) || !gst_structure_get_int(s, "channels", &channels) || !data)
        return;
      GstBuffer* config = gst_value_get_buffer(data);
      GstMapInfo map;
      if (!config || !gst_buffer_map(config, &map, GST_MAP_READ)) return;
      hls::aac::Format format;
      format.rate = static_cast<uint32_t>(rate);
      format.channels = static_cast<uint16_t>(channels);
      format.config.assign(reinterpret_cast<const char*>(map.data), map.size);
      format.bitrate_bps = bitrate_bps_;
      gst_buffer_unmap(config, &map);
      rendition_->set_format(format);
      described_ = true;
    }
    GstBuffer* buf = gst_sample_get_buffer(sample);
    const GstSegment* segment = gst_sample_get_segment(sample);
    if (!buf || !segment || !GST_BUFFER_PTS_IS_VALID(buf)) return;
    guint64 running = gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
    if (running == GST_CLOCK_TIME_NONE) return;
    GstMapInfo map;
    if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return;
    std::string frame(reinterpret_cast<const char*>(map.data), map.size);
    gst_buffer_unmap(buf, &map);
    rendition_->push_frame(static_cast<int64_t>(running), std::move(frame));
  } catch (const std::exception& e) {
    // A packaging fault stops this track only; the video and the other tracks go on.
    failed_ = true;
    log_->error("audio rendition {}: packaging failed: {}", name_, e.what());
    status_.record_error("packager", e.what());
  }
}

}  // namespace relay::ingest
