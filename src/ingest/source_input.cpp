#include "ingest/source_input.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <gio/gio.h>
#include <unistd.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/redact.hpp"
#include "gst/bus_problem.hpp"
#include "ingest/pipeline_builder.hpp"

namespace relay::ingest {
namespace {

constexpr const char* kVideoEnded = "relay-source-video-ended";
constexpr const char* kNoVideo = "relay-source-no-video";
// Once a run has delivered pictures for this long, the next failure starts the
// backoff from the beginning again.
constexpr int64_t kHealthyRunMs = 10'000;
// A source that connects but delivers no picture this long is tried again.
constexpr int64_t kFirstPictureMs = 15'000;

std::string address_text(GSocketAddress* addr) {
  if (!addr || !G_IS_INET_SOCKET_ADDRESS(addr)) return "?";
  auto* inet = G_INET_SOCKET_ADDRESS(addr);
  gst::CharPtr host(g_inet_address_to_string(g_inet_socket_address_get_address(inet)));
  return fmt::format("{}:{}", gst::to_string(host), g_inet_socket_address_get_port(inet));
}

gst::Element child(GstElement* bin, const char* name) {
  return gst::Element::adopt(gst_bin_get_by_name(GST_BIN(bin), name));
}

std::string pop_error(GstElement* pipeline) {
  gst::Bus bus = gst::Bus::adopt(gst_element_get_bus(pipeline));
  GstMessage* msg = gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR);
  if (!msg) return "state change failed";
  GError* raw = nullptr;
  gst_message_parse_error(msg, &raw, nullptr);
  gst::ErrorPtr err(raw);
  gst_message_unref(msg);
  return err ? err->message : "unknown error";
}

}  // namespace

SourceInput::SourceInput(const config::Config& cfg, int index, config::SourceUri uri, std::string channel,
                         GMainContext* context, GstClock* clock, Report report)
    : cfg_(cfg),
      index_(index),
      role_(index == 0 ? "primary" : "backup"),
      uri_(std::move(uri)),
      channel_(std::move(channel)),
      redacted_(text::redact_secrets(uri_.text)),
      context_(context),
      clock_(clock),
      report_(std::move(report)),
      log_(relay::log::get("ingest")) {
  state_ = uri_.srt_listener() ? "waiting for a sender" : "connecting";
}

SourceInput::~SourceInput() { stop(); }

void SourceInput::build() {
  auto text = build_source_pipeline(cfg_, uri_, channel_);
  log_->debug("{} source pipeline: {}", role_, text::redact_secrets(text));
  GError* raw_error = nullptr;
  GstElement* p = gst_parse_launch_full(text.c_str(), nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &raw_error);
  gst::ErrorPtr error(raw_error);
  if (error) {
    if (p) gst_object_unref(p);
    throw std::runtime_error(
        fmt::format("cannot build the {} source pipeline: {}", role_, text::redact_secrets(error->message)));
  }
  pipeline_ = gst::Element::adopt(p);
  gst_pipeline_use_clock(GST_PIPELINE(pipeline_.get()), clock_);

  normalize_rate_ = child(pipeline_.get(), "normalize_rate");
  keyframe_pad_ = nullptr;
  {
    std::lock_guard lock(measure_mutex_);
    measure_.keyframes = {};
  }
  // Decoders are plugged once the stream's format is known, deep inside decodebin
  // (or uridecodebin); a video decoder's input is the compressed video.
  signals_.emplace_back(pipeline_.get(), g_signal_connect(pipeline_.get(), "deep-element-added",
                                                          G_CALLBACK(&SourceInput::on_element_added), this));

  auto sink = child(pipeline_.get(), "source_video_sink");
  if (!sink) throw std::runtime_error(fmt::format("the {} source pipeline lacks source_video_sink", role_));
  gst::Pad sink_pad = gst::Pad::adopt(gst_element_get_static_pad(sink.get(), "sink"));
  gst_pad_add_probe(sink_pad.get(), GST_PAD_PROBE_TYPE_BUFFER, &SourceInput::on_frame, this, nullptr);
  gst_pad_add_probe(sink_pad.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &SourceInput::on_video_event, this, nullptr);

  for (const char* name : {"video_in", "audio_in"}) {
    if (auto in = child(pipeline_.get(), name)) {
      gst::Pad pad = gst::Pad::adopt(gst_element_get_static_pad(in.get(), "sink"));
      gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &SourceInput::on_caps, this, nullptr);
    }
  }
  if (auto decode = child(pipeline_.get(), "decode")) hook_decoder(decode.get());

  auto input = child(pipeline_.get(), "input");
  const bool compressed = uri_.kind == config::SourceKind::srt || uri_.kind == config::SourceKind::rtsp ||
                          uri_.kind == config::SourceKind::rtmp;
  if (input && uri_.kind == config::SourceKind::rtsp) {
    // One pad per stream of the camera, known once it has answered DESCRIBE.
    signals_.emplace_back(input.get(), g_signal_connect(input.get(), "pad-added",
                                                        G_CALLBACK(&SourceInput::on_input_pad_added), this));
  } else if (input && compressed) {
    gst::Pad pad = gst::Pad::adopt(gst_element_get_static_pad(input.get(), "src"));
    if (pad) {
      count_bytes_on(pad.get());
      // A stream without video never brings its EOS to the video sink; the
      // source's own EOS (an SRT sender hanging up) is the end for every kind.
      gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &SourceInput::on_video_event, this, nullptr);
    }
  }
  if (input && uri_.srt_listener()) {
    signals_.emplace_back(input.get(), g_signal_connect(input.get(), "caller-rejected",
                                                        G_CALLBACK(&SourceInput::on_srt_caller_rejected), this));
    if (!cfg_.ingest.srt_streamid.empty()) {
      signals_.emplace_back(input.get(),
                            g_signal_connect(input.get(), "caller-connecting",
                                             G_CALLBACK(&SourceInput::on_srt_caller_connecting), this));
    }
  }
  run_first_frame_ms_ = 0;
}

void SourceInput::hook_decoder(GstElement* decoder) {
  g_signal_connect(decoder, "pad-added", G_CALLBACK(&SourceInput::on_pad_added), this);
  g_signal_connect(decoder, "no-more-pads", G_CALLBACK(+[](GstElement* element, gpointer user) {
                     auto* self = static_cast<SourceInput*>(user);
                     auto in = child(self->pipeline_.get(), "video_in");
                     gst::Pad pad = gst::Pad::adopt(in ? gst_element_get_static_pad(in.get(), "sink") : nullptr);
                     if (pad && !gst_pad_is_linked(pad.get())) {
                       gst_element_post_message(element, gst_message_new_application(
                                                             GST_OBJECT(element), gst_structure_new_empty(kNoVideo)));
                     }
                   }),
                   this);
}

void SourceInput::on_pad_added(GstElement*, GstPad* pad, gpointer user) {
  static_cast<SourceInput*>(user)->link_decoded(pad);
}

void SourceInput::on_input_pad_added(GstElement*, GstPad* pad, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  GstElement* decoder = gst_element_factory_make("decodebin", nullptr);
  if (!decoder) return;
  self->hook_decoder(decoder);
  gst_bin_add(GST_BIN(self->pipeline_.get()), decoder);
  gst_element_sync_state_with_parent(decoder);
  gst::Pad sink = gst::Pad::adopt(gst_element_get_static_pad(decoder, "sink"));
  if (gst_pad_link(pad, sink.get()) != GST_PAD_LINK_OK) {
    self->log_->warn("{} input: cannot decode stream {}", self->role_, GST_PAD_NAME(pad));
    return;
  }
  self->count_bytes_on(pad);
}

void SourceInput::link_decoded(GstPad* pad) {
  GstCaps* caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, nullptr);
  const char* media = caps && gst_caps_get_size(caps) ? gst_structure_get_name(gst_caps_get_structure(caps, 0)) : "";
  std::string kind = g_str_has_prefix(media, "video/x-raw")   ? "video_in"
                     : g_str_has_prefix(media, "audio/x-raw") ? "audio_in"
                                                              : "";
  if (caps) gst_caps_unref(caps);
  if (kind.empty()) return;
  auto target = child(pipeline_.get(), kind.c_str());
  if (!target) return;  // a v4l2 input has no sound branch
  gst::Pad sink = gst::Pad::adopt(gst_element_get_static_pad(target.get(), "sink"));
  if (gst_pad_is_linked(sink.get())) return;  // a second video or audio stream: the first one wins
  if (gst_pad_link(pad, sink.get()) != GST_PAD_LINK_OK)
    log_->warn("{} input: cannot link its {} stream", role_, kind == "video_in" ? "video" : "audio");
}

void SourceInput::count_bytes_on(GstPad* pad) {
  gst_pad_add_probe(pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST),
                    &SourceInput::on_bytes, this, nullptr);
}

GstPadProbeReturn SourceInput::on_bytes(GstPad*, GstPadProbeInfo* info, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    self->bytes_ += gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    self->bytes_ += gst_buffer_list_calculate_size(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
  }
  return GST_PAD_PROBE_OK;
}

void SourceInput::on_element_added(GstBin*, GstBin*, GstElement* element, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  GstElementFactory* factory = gst_element_get_factory(element);
  const char* klass = factory ? gst_element_factory_get_metadata(factory, GST_ELEMENT_METADATA_KLASS) : nullptr;
  if (!klass || !std::strstr(klass, "Decoder") || !std::strstr(klass, "Video")) return;
  gst::Pad pad = gst::Pad::adopt(gst_element_get_static_pad(element, "sink"));
  if (pad) gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, &SourceInput::on_compressed_video, self, nullptr);
}

GstPadProbeReturn SourceInput::on_compressed_video(GstPad* pad, GstPadProbeInfo* info, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buffer) return GST_PAD_PROBE_OK;
  // The first video decoder to get a picture is the one measured (decodebin may
  // try a decoder and drop it before any arrives).
  GstPad* measured = nullptr;
  if (!self->keyframe_pad_.compare_exchange_strong(measured, pad) && measured != pad) return GST_PAD_PROBE_OK;
  const GstClockTime ts = GST_BUFFER_PTS_IS_VALID(buffer) ? GST_BUFFER_PTS(buffer) : GST_BUFFER_DTS(buffer);
  if (!GST_CLOCK_TIME_IS_VALID(ts)) return GST_PAD_PROBE_OK;
  // Parsers mark every access unit that is not a keyframe as a delta unit.
  const bool keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  std::lock_guard lock(self->measure_mutex_);
  self->measure_.keyframes.add(static_cast<int64_t>(ts), keyframe);
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn SourceInput::on_frame(GstPad*, GstPadProbeInfo*, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  int64_t now = now_monotonic_ms();
  self->last_frame_ms_ = now;
  int64_t zero = 0;
  self->run_first_frame_ms_.compare_exchange_strong(zero, now);
  ++self->frames_;
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn SourceInput::on_caps(GstPad*, GstPadProbeInfo* info, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (!event || GST_EVENT_TYPE(event) != GST_EVENT_CAPS) return GST_PAD_PROBE_OK;
  GstCaps* caps = nullptr;
  gst_event_parse_caps(event, &caps);
  if (!caps || gst_caps_get_size(caps) == 0) return GST_PAD_PROBE_OK;
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  std::lock_guard lock(self->measure_mutex_);
  if (gst_structure_has_name(s, "video/x-raw")) {
    gst_structure_get_int(s, "width", &self->measure_.width);
    gst_structure_get_int(s, "height", &self->measure_.height);
    int num = 0, den = 1;
    if (gst_structure_get_fraction(s, "framerate", &num, &den) && den)
      self->measure_.framerate = static_cast<double>(num) / den;
  } else if (gst_structure_has_name(s, "audio/x-raw")) {
    gst_structure_get_int(s, "channels", &self->measure_.audio_channels);
    gst_structure_get_int(s, "rate", &self->measure_.audio_rate);
  }
  return GST_PAD_PROBE_OK;
}

// A file's end is taken from its video: a file without sound never ends its
// audio branch, so the pipeline-wide EOS would never come. Every input's video
// EOS is dropped here (a flushing seek or a rebuild follows) and reported to the
// bus thread.
GstPadProbeReturn SourceInput::on_video_event(GstPad* pad, GstPadProbeInfo* info, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
  if (!event || GST_EVENT_TYPE(event) != GST_EVENT_EOS) return GST_PAD_PROBE_OK;
  gst_element_post_message(self->pipeline_.get(),
                           gst_message_new_application(GST_OBJECT(pad), gst_structure_new_empty(kVideoEnded)));
  // At the sink the EOS stops here (a seek or rebuild follows); at the source it
  // may go on, the pipeline is torn down anyway.
  return GST_PAD_PROBE_DROP;
}

// Only decides; caller-rejected, which follows a refusal, counts and logs it.
gboolean SourceInput::on_srt_caller_connecting(GstElement*, GSocketAddress*, gchar* stream_id, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  return (stream_id ? stream_id : "") == self->cfg_.ingest.srt_streamid;
}

void SourceInput::on_srt_caller_rejected(GstElement*, GSocketAddress* addr, gchar* stream_id, gpointer user) {
  auto* self = static_cast<SourceInput*>(user);
  ++self->refused_;
  self->log_->warn("{} input: refused SRT sender {}: stream id '{}' is not the configured one", self->role_,
                   address_text(addr), stream_id ? stream_id : "");
}

gboolean SourceInput::on_bus(GstBus*, GstMessage* msg, gpointer user) {
  static_cast<SourceInput*>(user)->handle_message(msg);
  return G_SOURCE_CONTINUE;
}

void SourceInput::handle_message(GstMessage* msg) {
  if (!pipeline_) return;
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      auto p = gst::read_problem(msg);
      log_->error("{} input {}: error from {}: {} ({})", role_, redacted_, p.element, p.message, p.debug);
      report_(true, p.element, p.message);
      last_error_ = p.message;
      teardown();
      schedule_restart(p.message, false);
      break;
    }
    case GST_MESSAGE_WARNING: {
      auto p = gst::read_problem(msg);
      log_->warn("{} input: warning from {}: {}", role_, p.element, p.message);
      report_(false, p.element, p.message);
      break;
    }
    case GST_MESSAGE_EOS:
      on_end();
      break;
    case GST_MESSAGE_QOS:
      count_qos(msg);
      break;
    case GST_MESSAGE_APPLICATION:
      if (gst_message_has_name(msg, kVideoEnded)) {
        on_end();
      } else if (gst_message_has_name(msg, kNoVideo)) {
        last_error_ = "the input has no video stream";
        log_->warn("{} input {}: {}; the slate stays on", role_, redacted_, last_error_);
        report_(false, "input", last_error_);
      }
      break;
    default:
      break;
  }
}

// An element that drops a frame for being too late posts its running totals.
void SourceInput::count_qos(GstMessage* msg) {
  GstFormat format = GST_FORMAT_UNDEFINED;
  guint64 processed = 0, dropped = 0;
  gst_message_parse_qos_stats(msg, &format, &processed, &dropped);
  // Video elements count buffers (frames); sound elements count samples.
  if (format != GST_FORMAT_BUFFERS || dropped == static_cast<guint64>(-1)) return;
  gst::CharPtr path(gst_object_get_path_string(GST_MESSAGE_SRC(msg)));
  late_[gst::to_string(path)].read(dropped);
}

void SourceInput::read_frame_counts() {
  if (!normalize_rate_) return;
  guint64 dropped = 0, duplicated = 0;
  g_object_get(normalize_rate_.get(), "drop", &dropped, "duplicate", &duplicated, nullptr);
  dropped_.read(dropped);
  duplicated_.read(duplicated);
}

void SourceInput::on_end() {
  if (!pipeline_) return;
  if (uri_.kind == config::SourceKind::file) {
    if (cfg_.ingest.loop) {
      log_->info("{} input reached its end; looping", role_);
      if (gst_element_seek_simple(pipeline_.get(), GST_FORMAT_TIME,
                                  GstSeekFlags(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0))
        return;
      // Seen with files without sound. Looping is not a failure: the file is
      // opened again at once, every time. With the growing backoff of a failing
      // input, the gap grew with each loop until the slate came on.
      last_error_ = "looping seek failed";
      log_->warn("{} input: cannot seek back to its start; reopening it", role_);
      teardown();
      schedule_restart(last_error_, true);
      return;
    }
    log_->warn("{} input: source ended", role_);
    teardown();
    ended_ = true;
    state_ = "ended";
    return;
  }
  // An SRT sender that disconnects ends srtsrc; a pulled stream that ends is
  // retried as if it had failed.
  log_->warn("{} input {}: the stream ended", role_, redacted_);
  teardown();
  schedule_restart("the stream ended", uri_.srt_listener());
}

void SourceInput::teardown() {
  if (!pipeline_) return;
  read_frame_counts();
  dropped_.close_run();
  duplicated_.close_run();
  normalize_rate_.reset();
  for (const auto& [path, count] : late_) late_before_ += count.total();
  late_.clear();
  gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  signals_.clear();
  if (bus_watch_) {
    if (GSource* s = g_main_context_find_source_by_id(context_, bus_watch_)) g_source_destroy(s);
    bus_watch_ = 0;
  }
  pipeline_.reset();
  started_ms_ = 0;
  run_first_frame_ms_ = 0;
}

void SourceInput::schedule_restart(const std::string& why, bool quick) {
  int64_t wait = quick ? 200 : backoff_ms_;
  if (!quick)
    backoff_ms_ = std::min<int64_t>(backoff_ms_ * 2, static_cast<int64_t>(cfg_.ingest.reconnect_max_s * 1000));
  restart_at_ms_ = now_monotonic_ms() + wait;
  state_ = uri_.srt_listener() ? "waiting for a sender" : "retrying";
  log_->info("{} input: {} again in {:.1f} s ({})", role_, uri_.srt_listener() ? "listening" : "connecting",
             wait / 1000.0, why);
}

void SourceInput::preroll() {
  auto ret = gst_element_set_state(pipeline_.get(), GST_STATE_PAUSED);
  auto fail = [&](const std::string& why) {
    gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
    pipeline_.reset();
    throw std::runtime_error(fmt::format("cannot open ingest.{} '{}': {}",
                                         index_ == 0 ? "source" : "backup_source", redacted_, why));
  };
  if (ret == GST_STATE_CHANGE_FAILURE) fail(pop_error(pipeline_.get()));
  gst::Bus bus = gst::Bus::adopt(gst_element_get_bus(pipeline_.get()));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus.get(), 100 * GST_MSECOND, GstMessageType(GST_MESSAGE_ERROR | GST_MESSAGE_ASYNC_DONE));
    if (!msg) continue;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError* raw = nullptr;
      gst_message_parse_error(msg, &raw, nullptr);
      gst::ErrorPtr err(raw);
      gst_message_unref(msg);
      fail(err ? err->message : "unknown error");
    }
    gst_message_unref(msg);
    return;
  }
  fail("no media after 15 s");
}

void SourceInput::start() {
  if (uri_.kind == config::SourceKind::file) {
    if (::access(uri_.path.c_str(), R_OK) != 0)
      throw std::runtime_error(fmt::format("cannot open ingest.{} '{}': {}", index_ == 0 ? "source" : "backup_source",
                                           uri_.text, std::strerror(errno)));
    if (std::filesystem::is_directory(uri_.path))
      throw std::runtime_error(fmt::format("cannot open ingest.{} '{}': is a directory",
                                           index_ == 0 ? "source" : "backup_source", uri_.text));
  }
  build();
  if (uri_.kind == config::SourceKind::file) preroll();

  gst::Bus bus = gst::Bus::adopt(gst_element_get_bus(pipeline_.get()));
  GSource* src = gst_bus_create_watch(bus.get());
  g_source_set_callback(src, G_SOURCE_FUNC(&SourceInput::on_bus), this, nullptr);
  bus_watch_ = g_source_attach(src, context_);
  g_source_unref(src);

  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    std::string why = pop_error(pipeline_.get());
    teardown();
    // A listener that cannot bind its port is a config mistake to show at start.
    if (first_start_ && uri_.srt_listener())
      throw std::runtime_error(fmt::format("cannot listen on ingest.{} '{}': {}",
                                           index_ == 0 ? "source" : "backup_source", redacted_, why));
    last_error_ = why;
    schedule_restart(why, false);
    first_start_ = false;
    return;
  }
  first_start_ = false;
  started_ms_ = now_monotonic_ms();
  if (!uri_.srt_listener()) state_ = "connecting";
}

void SourceInput::stop() {
  teardown();
  restart_at_ms_ = 0;
}

void SourceInput::tick(int64_t now) {
  read_frame_counts();
  if (!pipeline_) {
    if (restart_at_ms_ && now >= restart_at_ms_) {
      restart_at_ms_ = 0;
      ++reconnects_;
      try {
        start();
      } catch (const std::exception& e) {
        last_error_ = e.what();
        log_->error("{} input: {}", role_, e.what());
        teardown();
        schedule_restart(e.what(), false);
      }
    }
  } else {
    const int64_t first = run_first_frame_ms_.load();
    const int64_t last = last_frame_ms_.load();
    const int64_t stall_ms = std::max<int64_t>(3000, static_cast<int64_t>(cfg_.ingest.input_timeout_s * 4000));
    if (first && now - first >= kHealthyRunMs) backoff_ms_ = 500;
    if (first && now - last > stall_ms) {
      log_->warn("{} input {}: no picture for {:.1f} s; reconnecting", role_, redacted_, (now - last) / 1000.0);
      teardown();
      schedule_restart("stalled", false);
    } else if (!first && !uri_.srt_listener() && started_ms_ && now - started_ms_ > kFirstPictureMs) {
      last_error_ = fmt::format("no picture within {} s of connecting", kFirstPictureMs / 1000);
      log_->warn("{} input {}: {}", role_, redacted_, last_error_);
      teardown();
      schedule_restart(last_error_, false);
    } else if (first) {
      state_ = now - last <= static_cast<int64_t>(cfg_.ingest.input_timeout_s * 1000) ? "receiving" : "stalled";
    }
  }
  if (now - rate_at_ms_ >= 1000) {
    uint64_t bytes = bytes_.load(), frames = frames_.load();
    if (rate_at_ms_) {
      double seconds = (now - rate_at_ms_) / 1000.0;
      bitrate_kbps_ = (bytes - rate_bytes_) * 8 / 1000.0 / seconds;
      measured_fps_ = (frames - rate_frames_) / seconds;
    }
    rate_bytes_ = bytes;
    rate_frames_ = frames;
    rate_at_ms_ = now;
  }
}

health::InputInfo SourceInput::info(int64_t now) {
  health::InputInfo i;
  i.role = role_;
  i.uri = redacted_;
  i.state = state_;
  i.reconnects = reconnects_;
  i.refused = refused_.load();
  i.last_error = last_error_;
  int64_t last = last_frame_ms_.load();
  i.last_frame_age_ms = last ? now - last : -1;
  const bool receiving = pipeline_ && last && now - last <= static_cast<int64_t>(cfg_.ingest.input_timeout_s * 1000);
  i.bitrate_kbps = receiving ? bitrate_kbps_ : 0;
  i.frames_dropped = dropped_.total();
  i.frames_duplicated = duplicated_.total();
  i.frames_late = late_before_;
  for (const auto& [path, count] : late_) i.frames_late += count.total();
  std::lock_guard lock(measure_mutex_);
  i.width = measure_.width;
  i.height = measure_.height;
  i.framerate = measure_.framerate > 0 ? measure_.framerate : (receiving ? measured_fps_ : 0);
  i.audio_channels = measure_.audio_channels;
  i.audio_rate = measure_.audio_rate;
  i.keyframe_interval_s = measure_.keyframes.seconds();
  return i;
}

}  // namespace relay::ingest
