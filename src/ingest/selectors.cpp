#include "ingest/selectors.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "common/log.hpp"

namespace relay::ingest {

Selectors::Selectors(GstBin* ladder, const config::Config& cfg, int input_count)
    : input_count_(input_count),
      log_(relay::log::get("ingest")),
      video_select_(gst::Element::adopt(gst_bin_get_by_name(ladder, "video_select"))),
      audio_select_(gst::Element::adopt(gst_bin_get_by_name(ladder, "audio_select"))),
      frame_grid_(cfg.ingest.framerate),
      sample_grid_(cfg.encoder.audio_rate),
      bytes_per_sample_frame_(2 * cfg.encoder.audio_channels) {  // S16LE, as ladder-input.pipeline asks
  if (!video_select_ || !audio_select_) throw std::runtime_error("the ladder pipeline lacks video_select/audio_select");
  gst::Pad selected = gst::Pad::adopt(gst_element_get_static_pad(video_select_.get(), "src"));
  gst_pad_add_probe(selected.get(), GST_PAD_PROBE_TYPE_BUFFER, &Selectors::on_video, &frame_grid_, nullptr);
  gst::Pad heard = gst::Pad::adopt(gst_element_get_static_pad(audio_select_.get(), "src"));
  gst_pad_add_probe(heard.get(), GST_PAD_PROBE_TYPE_BUFFER, &Selectors::on_audio, this, nullptr);
  gst_pad_add_probe(selected.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &Selectors::on_event, &video_segment_sent_,
                    nullptr);
  gst_pad_add_probe(heard.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &Selectors::on_event, &audio_segment_sent_,
                    nullptr);
}

void Selectors::select(Output output) {
  int index = output == Output::slate ? input_count_ : static_cast<int>(output);
  auto pad_name = fmt::format("sink_{}", index);
  for (auto* selector : {video_select_.get(), audio_select_.get()}) {
    gst::Pad pad = gst::Pad::adopt(gst_element_get_static_pad(selector, pad_name.c_str()));
    if (!pad) {
      log_->error("selector {} has no pad {}", GST_ELEMENT_NAME(selector), pad_name);
      continue;
    }
    g_object_set(selector, "active-pad", pad.get(), nullptr);
  }
}

// Pictures leaving the video selector go onto the frame grid.
GstPadProbeReturn Selectors::on_video(GstPad*, GstPadProbeInfo* info, gpointer user) {
  auto* grid = static_cast<FrameGrid*>(user);
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buf || GST_BUFFER_PTS(buf) == GST_CLOCK_TIME_NONE) return GST_PAD_PROBE_OK;
  auto pts = grid->place(static_cast<int64_t>(GST_BUFFER_PTS(buf)));
  if (!pts) return GST_PAD_PROBE_DROP;
  buf = gst_buffer_make_writable(buf);
  GST_BUFFER_PTS(buf) = static_cast<GstClockTime>(*pts);
  GST_BUFFER_DTS(buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(buf) = static_cast<GstClockTime>(grid->frame_ns());
  GST_PAD_PROBE_INFO_DATA(info) = buf;
  return GST_PAD_PROBE_OK;
}

// Sound leaving the audio selector is stitched sample-exact to what was sent.
GstPadProbeReturn Selectors::on_audio(GstPad*, GstPadProbeInfo* info, gpointer user) {
  auto* self = static_cast<Selectors*>(user);
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buf || GST_BUFFER_PTS(buf) == GST_CLOCK_TIME_NONE) return GST_PAD_PROBE_OK;
  const int64_t count = static_cast<int64_t>(gst_buffer_get_size(buf)) / self->bytes_per_sample_frame_;
  auto place = self->sample_grid_.place(static_cast<int64_t>(GST_BUFFER_PTS(buf)), count);
  if (!place) return GST_PAD_PROBE_DROP;
  if (place->skip > 0) {
    GstBuffer* tail = gst_buffer_copy_region(buf, GST_BUFFER_COPY_ALL, place->skip * self->bytes_per_sample_frame_,
                                             (count - place->skip) * self->bytes_per_sample_frame_);
    gst_buffer_unref(buf);
    buf = tail;
  }
  buf = gst_buffer_make_writable(buf);
  GST_BUFFER_PTS(buf) = static_cast<GstClockTime>(place->pts_ns);
  GST_BUFFER_DURATION(buf) = static_cast<GstClockTime>(self->sample_grid_.duration_ns(count - place->skip));
  GST_PAD_PROBE_INFO_DATA(info) = buf;
  return GST_PAD_PROBE_OK;
}

// input-selector re-sends the segment of the branch it switches to. Every
// branch runs on the ladder's clock from the same start, so a repeat says
// nothing new, but it makes the AAC encoder drain and restart its timestamps.
GstPadProbeReturn Selectors::on_event(GstPad*, GstPadProbeInfo* info, gpointer user) {
  auto* seen = static_cast<std::atomic<bool>*>(user);
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (!event || GST_EVENT_TYPE(event) != GST_EVENT_SEGMENT) return GST_PAD_PROBE_OK;
  return seen->exchange(true) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

}  // namespace relay::ingest
