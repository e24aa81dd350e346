#include "ingest/ladder.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <gst/app/gstappsink.h>

#include "common/log.hpp"
#include "gst/bus_problem.hpp"
#include "hls/object_names.hpp"
#include "ingest/pipeline_builder.hpp"

namespace relay::ingest {
namespace {

int input_count(const config::Config& cfg) { return cfg.ingest.backup_source.empty() ? 1 : 2; }

// With audio renditions, whose PART-TARGET is rounded up to whole AAC frames,
// every rendition states 3 × that as PART-HOLD-BACK, so SERVER-CONTROL is the
// same in all of them (a few ms more latency); 0 without.
double audio_part_hold_back(const config::Config& cfg) {
  if (cfg.audio.empty() || !cfg.hls.low_latency) return 0;
  hls::LowLatency audio{hls::AudioRendition::part_target_for(cfg.hls.part_duration_s, cfg.encoder.audio_rate)};
  return audio.part_hold_back();
}

}  // namespace

hls::PackagerOptions packager_options(const config::Config& cfg, size_t rendition, const std::string& instance) {
  const auto& rungs = cfg.encoder.renditions;
  const config::Rendition& r = rungs.at(rendition);
  const size_t max_bytes = static_cast<size_t>(cfg.hls.max_memory_mb) * 1024 * 1024 / std::max<size_t>(1, rungs.size());
  hls::PackagerOptions opts;
  opts.name = r.name;
  opts.instance = instance;
  opts.segment_duration_s = cfg.hls.segment_duration_s;
  opts.live_window = cfg.hls.live_window;
  opts.dvr_window_s = cfg.hls.dvr_window_s;
  opts.max_bytes = max_bytes;
  opts.part_target_s = cfg.hls.low_latency ? cfg.hls.part_duration_s : 0;
  opts.mpegts = cfg.hls.container == "mpegts";
  opts.width = r.width;
  opts.height = r.height;
  opts.frame_rate = cfg.ingest.framerate;
  return opts;
}

namespace {

// The loudest channel of a `level` element's report ("rms" or "peak", one dB
// value per channel); none for another message.
std::optional<double> loudest(GstMessage* msg, const char* field) {
  const GstStructure* s = gst_message_get_structure(msg);
  if (!s || !gst_structure_has_name(s, "level")) return std::nullopt;
  const GValue* list = gst_structure_get_value(s, field);
  // A GValueArray (deprecated, but what level posts in GStreamer 1.22).
  if (!list || !G_VALUE_HOLDS_BOXED(list)) return std::nullopt;
  const auto* values = static_cast<const GValueArray*>(g_value_get_boxed(list));
  std::optional<double> max;
  for (guint i = 0; values && i < values->n_values; ++i) {
    if (!G_VALUE_HOLDS_DOUBLE(&values->values[i])) continue;
    double db = g_value_get_double(&values->values[i]);
    if (!max || db > *max) max = db;
  }
  return max;
}

void read_programme_level(GstMessage* msg, health::IngestStatus& status) {
  auto rms = loudest(msg, "rms");
  auto peak = loudest(msg, "peak");
  if (rms) status.set_audio_level(*rms, peak.value_or(*rms));
}

}  // namespace

Ladder::Ladder(const config::Config& cfg, const std::string& channel, GstClock* clock, hls::Store& store,
               hls::MasterPlaylist& master, health::IngestStatus& status)
    : status_(status),
      log_(relay::log::get("ingest")),
      pipeline_(parse(cfg, channel, input_count(cfg))),
      thumbnail_(gst::Element::adopt(gst_bin_get_by_name(GST_BIN(pipeline_.get()), "thumbnail"))),
      selectors_(GST_BIN(pipeline_.get()), cfg, input_count(cfg)) {
  gst_pipeline_use_clock(GST_PIPELINE(pipeline_.get()), clock);
  add_renditions(cfg, store, master);
}

Ladder::Ladder(const config::Config& cfg, const std::string& channel, GstClock* clock,
               std::vector<RenditionSink::Output> outputs, health::IngestStatus& status)
    : status_(status),
      log_(relay::log::get("ingest")),
      pipeline_(parse(cfg, channel, 0)),
      selectors_(GST_BIN(pipeline_.get()), cfg, 0) {
  gst_pipeline_use_clock(GST_PIPELINE(pipeline_.get()), clock);
  if (outputs.size() != cfg.encoder.renditions.size()) throw std::logic_error("one slate output per rung");
  for (size_t i = 0; i < outputs.size(); ++i)
    renditions_.push_back(std::make_unique<RenditionSink>(GST_BIN(pipeline_.get()), packager_options(cfg, i, ""),
                                                          std::move(outputs[i]), status_));
  for (auto& rendition : renditions_) rendition->connect();
}

gst::Element Ladder::parse(const config::Config& cfg, const std::string& channel, int inputs) {
  auto text = build_ladder_pipeline(cfg, channel, inputs);
  log_->debug("ladder pipeline: {}", text);
  GError* raw_error = nullptr;
  GstElement* p = gst_parse_launch_full(text.c_str(), nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &raw_error);
  gst::ErrorPtr error(raw_error);
  if (error) {
    if (p) gst_object_unref(p);
    throw std::runtime_error(fmt::format("cannot build the ladder pipeline: {}", error->message));
  }
  return gst::Element::adopt(p);
}

// Every rung is found before any is connected, so a pipeline that lacks one
// fails whole.
void Ladder::add_renditions(const config::Config& cfg, hls::Store& store, hls::MasterPlaylist& master) {
  const auto& rungs = cfg.encoder.renditions;
  // One id for every rendition of this run, so their object names stay in step.
  const std::string instance = hls::new_instance_id();
  log_->info("stream instance {}", instance);
  for (size_t i = 0; i < rungs.size(); ++i) {
    auto options = packager_options(cfg, i, instance);
    options.part_hold_back_s = audio_part_hold_back(cfg);
    // The top rung's parts set where every audio track's parts begin.
    if (i == 0 && !cfg.audio.empty()) options.on_part = [this](const hls::PartCut& cut) { on_video_part(cut); };
    renditions_.push_back(
        std::make_unique<RenditionSink>(GST_BIN(pipeline_.get()), std::move(options), i, store, master, status_));
  }
  add_audio_tracks(cfg, instance, store, master);
  for (auto& rendition : renditions_) rendition->connect();
  for (auto& track : audio_tracks_) track->connect();
}

// With [[audio]] tracks the floor sound and each track are audio-only renditions
// after the video rungs in the store ("audio-0" the floor, then "audio-1", ...),
// and the master playlist's audio group lists them, the floor first.
void Ladder::add_audio_tracks(const config::Config& cfg, const std::string& instance, hls::Store& store,
                              hls::MasterPlaylist& master) {
  if (cfg.audio.empty()) return;
  const size_t rungs = cfg.encoder.renditions.size();
  auto add = [&](const std::string& sink, const std::string& rendition, size_t index, int kbps) {
    auto options = packager_options(cfg, 0, instance);
    options.name = rendition;
    options.max_bytes = std::max<size_t>(4u << 20, static_cast<size_t>(cfg.hls.max_memory_mb) * 1024 * 1024 / 16);
    options.part_target_s = hls::AudioRendition::part_target_for(options.part_target_s, cfg.encoder.audio_rate);
    options.part_hold_back_s = audio_part_hold_back(cfg);
    audio_tracks_.push_back(std::make_unique<AudioTrackSink>(
        GST_BIN(pipeline_.get()), sink, rendition, kbps * 1000,
        std::make_unique<hls::AudioRendition>(std::move(options), index, store), status_));
  };
  hls::AudioGroup group;
  add("audio_sink_floor", kFloorRendition, rungs, cfg.encoder.audio_bitrate_kbps);
  // The floor's bitrate is in every variant's bound already (VariantSpec).
  group.tracks.push_back({cfg.encoder.floor_audio_name, cfg.encoder.floor_audio_language,
                          std::string(kFloorRendition) + "/index.m3u8", 0});
  for (size_t i = 0; i < cfg.audio.size(); ++i) {
    const auto& track = cfg.audio[i];
    const int kbps = track.bitrate_kbps ? track.bitrate_kbps : cfg.encoder.audio_bitrate_kbps;
    add(fmt::format("audio_sink_{}", i), track.rendition, rungs + 1 + i, kbps);
    // The encoder's overshoot and the fMP4 boxes, as for the variants.
    const auto peak = static_cast<uint64_t>(kbps * 1000.0 * 1.1 * 1.02 + 16'000);
    group.tracks.push_back({track.name, track.language, track.rendition + "/index.m3u8", peak});
  }
  master.set_audio_group(std::move(group));
}

void Ladder::on_video_part(const hls::PartCut& cut) {
  const int64_t origin = renditions_.front()->first_frame_running_ns();
  for (auto& track : audio_tracks_) {
    if (origin >= 0) track->rendition().set_origin(origin);
    track->rendition().on_video_part(cut);
  }
}


void Ladder::watch_bus(GMainContext* context) {
  context_ = context;
  gst::Bus bus = gst::Bus::adopt(gst_element_get_bus(pipeline_.get()));
  GSource* src = gst_bus_create_watch(bus.get());
  g_source_set_callback(src, G_SOURCE_FUNC(&Ladder::on_message), this, nullptr);
  bus_watch_ = g_source_attach(src, context_);
  g_source_unref(src);
}

void Ladder::play() {
  if (gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    throw std::runtime_error("cannot start the encoder pipeline (see the errors above)");
}

void Ladder::stop() {
  gst_element_set_state(pipeline_.get(), GST_STATE_NULL);
  if (bus_watch_) {
    if (GSource* s = g_main_context_find_source_by_id(context_, bus_watch_)) g_source_destroy(s);
    bus_watch_ = 0;
  }
}

void Ladder::take_thumbnail() {
  if (!thumbnail_) return;
  GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(thumbnail_.get()), 0);
  if (!sample) return;
  GstBuffer* buf = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
    status_.set_thumbnail(std::string(reinterpret_cast<const char*>(map.data), map.size));
    gst_buffer_unmap(buf, &map);
  }
  gst_sample_unref(sample);
}

gboolean Ladder::on_message(GstBus*, GstMessage* msg, gpointer user) {
  auto* self = static_cast<Ladder*>(user);
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      auto p = gst::read_problem(msg);
      self->log_->error("ladder error from {}: {} ({})", p.element, p.message, p.debug);
      self->status_.record_error(p.element, p.message);
      self->status_.set_state(health::IngestState::failed);
      break;
    }
    case GST_MESSAGE_WARNING: {
      auto p = gst::read_problem(msg);
      self->log_->warn("ladder warning from {}: {}", p.element, p.message);
      self->status_.record_warning(p.element, p.message);
      break;
    }
    case GST_MESSAGE_ELEMENT: {
      // programme_level measures the floor; audio_level_N the Nth [[audio]] track.
      const char* source = GST_MESSAGE_SRC_NAME(msg);
      int track = -1;
      if (source && g_str_has_prefix(source, "audio_level_")) track = std::atoi(source + 12);
      if (track < 0) {
        read_programme_level(msg, self->status_);
      } else if (auto rms = loudest(msg, "rms")) {
        self->status_.set_audio_track_level(static_cast<size_t>(track), *rms);
      }
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace relay::ingest
