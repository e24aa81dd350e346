#include "ingest/interpreter_input.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/redact.hpp"
#include "gst/bus_problem.hpp"
#include "ingest/pipeline_builder.hpp"

namespace relay::ingest {
namespace {

// Sound is measured in buffers of tens of ms; a second without any is a lost input.
int64_t lost_after_ms(const config::Config& cfg) {
  return std::max<int64_t>(1000, static_cast<int64_t>(cfg.ingest.input_timeout_s * 1000));
}
// A pulled source (SRT caller, RTSP) silent this long is connected again.
constexpr int64_t kSilentRestartMs = 5000;
constexpr int64_t kMaxBackoffMs = 8000;

gst::Element child(GstElement* bin, const char* name) {
  return gst::Element::adopt(gst_bin_get_by_name(GST_BIN(bin), name));
}

}  // namespace

InterpreterInput::InterpreterInput(const config::Config& cfg, size_t track, std::string channel,
                                   GMainContext* context, GstClock* clock)
    : cfg_(cfg),
      track_(track),
      source_(config::parse_audio_source(cfg.audio.at(track).source)),
      channel_(std::move(channel)),
      redacted_(text::redact_secrets(cfg.audio.at(track).source)),
      context_(context),
      clock_(clock),
      log_(relay::log::get("ingest")) {}

InterpreterInput::~InterpreterInput() { stop(); }

void InterpreterInput::start() {
  if (source_.kind == config::AudioSourceKind::channel) return;  // taken inside the ladder
  try {
    build();
  } catch (const std::exception& e) {
    last_error_ = e.what();
    log_->error("audio track '{}': {}", cfg_.audio[track_].name, last_error_);
    schedule_restart(last_error_);
  }
}

void InterpreterInput::build() {
  auto text = build_audio_source_pipeline(cfg_, track_, channel_);
  log_->debug("audio track {} source pipeline: {}", track_ + 1, text::redact_secrets(text));
  GError* raw_error = nullptr;
  GstElement* p = gst_parse_launch_full(text.c_str(), nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &raw_error);
  gst::ErrorPtr error(raw_error);
  if (error) {
    if (p) gst_object_unref(p);
    throw std::runtime_error(fmt::format("cannot build the source pipeline: {}", text::redact_secrets(error->message)));
  }
  pipeline_ = gst::Element::adopt(p);
  gst_pipeline_use_clock(GST_PIPELINE(pipeline_.get()), clock_);
  if (auto in = child(pipeline_.get(), "audio_in")) {
    gst::Pad pad = gst::Pad::adopt(gst_element_get_static_pad(in.get(), "sink"));
    gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, &InterpreterInput::on_sound, this, nullptr);
  }
  if (auto decode = child(pipeline_.get(), "decode")) {
    signals_.emplace_back(decode.get(), g_signal_connect(decode.get(), "pad-added",
                                                         G_CALLBACK(&InterpreterInput::on_pad_added), this));
  }
  if (source_.kind == config::AudioSourceKind::rtsp) {
    if (auto input = child(pipeline_.get(), "input")) {
      signals_.emplace_back(input.get(), g_signal_connect(input.get(), "pad-added",
                                                          G_CALLBACK(&InterpreterInput::on_input_pad_added), this));
    }
  }
  gst::Bus bus = gst::Bus::adopt(gst_element_get_bus(pipeline_.get()));
  GSource* watch = gst_bus_create_watch(bus.get());
  g_source_set_callback(watch, G_SOURCE_FUNC(&InterpreterInput::on_bus), this, nullptr);
  bus_watch_ = g_source_attach(watch, context_);
  g_source_unref(watch);
  started_ms_ = now_monotonic_ms();
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    teardown();
    throw std::runtime_error("cannot start the source pipeline");
  }
}

void InterpreterInput::teardown() {
  if (bus_watch_) {
    if (GSource* s = g_main_context_find_source_by_id(context_, bus_watch_)) g_source_destroy(s);
    bus_watch_ = 0;
  }
  if (pipeline_) gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  signals_.clear();
  pipeline_.reset();
  started_ms_ = 0;
}

void InterpreterInput::stop() {
  teardown();
  restart_at_ms_ = 0;
}

void InterpreterInput::schedule_restart(const std::string& why) {
  teardown();
  restart_at_ms_ = now_monotonic_ms() + backoff_ms_;
  log_->warn("audio track '{}' ({}): {}; trying again in {:.1f} s (silence on the track meanwhile)",
             cfg_.audio[track_].name, redacted_, why, backoff_ms_ / 1000.0);
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
}

void InterpreterInput::tick(int64_t now_ms) {
  if (source_.kind == config::AudioSourceKind::channel) return;
  const int64_t last = last_sound_ms_.load();
  if (last && now_ms - last < lost_after_ms(cfg_)) backoff_ms_ = 500;  // healthy again
  if (!pipeline_ && restart_at_ms_ && now_ms >= restart_at_ms_) {
    restart_at_ms_ = 0;
    ++reconnects_;
    start();
    return;
  }
  // A listener waits as long as it takes; a source the relay pulls from is
  // connected again when it goes silent (a dead peer, a stuck camera).
  const bool pulls = source_.kind == config::AudioSourceKind::rtsp ||
                     (source_.kind == config::AudioSourceKind::srt && !source_.uri.srt_listener());
  const int64_t heard = std::max(last, started_ms_);
  if (pipeline_ && pulls && started_ms_ && now_ms - heard > kSilentRestartMs) schedule_restart("no sound");
}

health::AudioTrackInfo InterpreterInput::info(int64_t now_ms) const {
  const auto& track = cfg_.audio[track_];
  health::AudioTrackInfo out;
  out.name = track.name;
  out.language = track.language;
  out.rendition = track.rendition;
  out.source = redacted_;
  out.reconnects = reconnects_;
  out.last_error = last_error_;
  if (source_.kind == config::AudioSourceKind::channel) {
    out.state = "channel";
    return out;
  }
  const int64_t last = last_sound_ms_.load();
  out.last_audio_age_ms = last ? now_ms - last : -1;
  if (!last) {
    out.state = "waiting";
  } else {
    out.state = now_ms - last < lost_after_ms(cfg_) ? "receiving" : "lost";
  }
  return out;
}

gboolean InterpreterInput::on_bus(GstBus*, GstMessage* msg, gpointer user) {
  auto* self = static_cast<InterpreterInput*>(user);
  if (!self->pipeline_) return G_SOURCE_CONTINUE;
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      auto p = gst::read_problem(msg);
      self->last_error_ = p.message;
      self->log_->error("audio track '{}' ({}): error from {}: {} ({})", self->cfg_.audio[self->track_].name,
                        self->redacted_, p.element, p.message, p.debug);
      // The bus watch is removed in here: return at once.
      self->schedule_restart(p.message);
      return G_SOURCE_REMOVE;
    }
    case GST_MESSAGE_EOS:
      // An input that ends as soon as it starts is retried with backoff, not in a loop.
      if (now_monotonic_ms() - self->started_ms_ < 2000) {
        self->schedule_restart("the input ended at once");
        return G_SOURCE_REMOVE;
      }
      // An SRT sender hung up: a fresh listener (or a new call) at once, so the
      // track is back as soon as the sender is; the silence covers the meantime.
      self->log_->warn("audio track '{}' ({}): the input ended; connecting again (silence on the track meanwhile)",
                       self->cfg_.audio[self->track_].name, self->redacted_);
      self->teardown();
      self->restart_at_ms_ = now_monotonic_ms();
      return G_SOURCE_REMOVE;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

void InterpreterInput::on_pad_added(GstElement*, GstPad* pad, gpointer user) {
  auto* self = static_cast<InterpreterInput*>(user);
  GstCaps* caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, nullptr);
  const bool sound = caps && gst_caps_get_size(caps) &&
                     g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "audio/x-raw");
  if (caps) gst_caps_unref(caps);
  if (!sound || !self->pipeline_) return;
  auto target = child(self->pipeline_.get(), "audio_in");
  gst::Pad sink = gst::Pad::adopt(target ? gst_element_get_static_pad(target.get(), "sink") : nullptr);
  if (!sink || gst_pad_is_linked(sink.get())) return;  // a second sound stream: the first one wins
  if (gst_pad_link(pad, sink.get()) != GST_PAD_LINK_OK)
    self->log_->warn("audio track {}: cannot link its sound", self->track_ + 1);
}

void InterpreterInput::on_input_pad_added(GstElement*, GstPad* pad, gpointer user) {
  auto* self = static_cast<InterpreterInput*>(user);
  GstElement* decoder = gst_element_factory_make("decodebin", nullptr);
  if (!decoder || !self->pipeline_) return;
  g_signal_connect(decoder, "pad-added", G_CALLBACK(&InterpreterInput::on_pad_added), self);
  gst_bin_add(GST_BIN(self->pipeline_.get()), decoder);
  gst_element_sync_state_with_parent(decoder);
  gst::Pad sink = gst::Pad::adopt(gst_element_get_static_pad(decoder, "sink"));
  gst_pad_link(pad, sink.get());
}

GstPadProbeReturn InterpreterInput::on_sound(GstPad*, GstPadProbeInfo*, gpointer user) {
  auto* self = static_cast<InterpreterInput*>(user);
  self->last_sound_ms_ = now_monotonic_ms();
  return GST_PAD_PROBE_OK;
}

}  // namespace relay::ingest
