#include "ingest/ingest.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <unistd.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "gst/bus_problem.hpp"
#include "gst/handles.hpp"
#include "ingest/pipeline_builder.hpp"
#include "ingest/preflight.hpp"
#include "ingest/source_input.hpp"
#include "ingest/srt_refusals.hpp"
#include "ingest/supervisor.hpp"
#include "ingest/time_grid.hpp"

namespace relay::ingest {
namespace {

constexpr guint kTickMs = 100;

}  // namespace

struct Rendition {
  std::string name;
  std::unique_ptr<hls::Packager> packager;
  gst::Element sink;
  gst::Pad probe_pad;
  std::atomic<int64_t> first_frame_epoch_ms{0};
  std::atomic<bool> failed{false};
};

struct Ingest::Impl {
  const config::Config& cfg;
  hls::Store& store;
  hls::MasterPlaylist& master;
  health::IngestStatus& status;
  std::shared_ptr<spdlog::logger> log = relay::log::get("ingest");

  GMainContext* context = nullptr;
  GMainLoop* loop = nullptr;
  std::thread thread;
  GstClock* clock = nullptr;
  gst::Element ladder;
  gst::Element video_select, audio_select;
  gst::Element thumbnail;  // JPEG pictures for /tech; null when the ladder text has none
  guint ladder_watch = 0, tick_source = 0;
  std::vector<std::unique_ptr<Rendition>> renditions;
  std::vector<std::unique_ptr<SourceInput>> inputs;
  std::unique_ptr<Supervisor> supervisor;
  std::string channel;

  Impl(const config::Config& c, hls::Store& s, hls::MasterPlaylist& m, health::IngestStatus& st)
      : cfg(c), store(s), master(m), status(st) {}

  void build_ladder() {
    int input_count = cfg.ingest.backup_source.empty() ? 1 : 2;
    auto text = build_ladder_pipeline(cfg, channel, input_count);
    log->debug("ladder pipeline: {}", text);
    GError* raw_error = nullptr;
    GstElement* p = gst_parse_launch_full(text.c_str(), nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &raw_error);
    gst::ErrorPtr error(raw_error);
    if (error) {
      if (p) gst_object_unref(p);
      throw std::runtime_error(fmt::format("cannot build the ladder pipeline: {}", error->message));
    }
    ladder = gst::Element::adopt(p);
    gst_pipeline_use_clock(GST_PIPELINE(ladder.get()), clock);
    video_select = gst::Element::adopt(gst_bin_get_by_name(GST_BIN(ladder.get()), "video_select"));
    audio_select = gst::Element::adopt(gst_bin_get_by_name(GST_BIN(ladder.get()), "audio_select"));
    if (!video_select || !audio_select) throw std::runtime_error("the ladder pipeline lacks video_select/audio_select");
    thumbnail = gst::Element::adopt(gst_bin_get_by_name(GST_BIN(ladder.get()), "thumbnail"));

    size_t total_renditions = cfg.encoder.renditions.size();
    size_t budget = static_cast<size_t>(cfg.hls.max_memory_mb) * 1024 * 1024 / std::max<size_t>(1, total_renditions);
    for (size_t i = 0; i < total_renditions; ++i) {
      const auto& r = cfg.encoder.renditions[i];
      auto rend = std::make_unique<Rendition>();
      rend->name = r.name;
      hls::PackagerOptions opts;
      opts.name = r.name;
      opts.segment_duration_s = cfg.hls.segment_duration_s;
      opts.live_window = cfg.hls.live_window;
      opts.dvr_window_s = cfg.hls.dvr_window_s;
      opts.max_bytes = budget;
      opts.part_target_s = cfg.hls.low_latency ? cfg.hls.part_duration_s : 0;
      opts.mpegts = cfg.hls.container == "mpegts";
      opts.width = r.width;
      opts.height = r.height;
      opts.frame_rate = cfg.ingest.framerate;
      rend->packager = std::make_unique<hls::Packager>(opts, i, store, &master);
      rend->sink = gst::Element::adopt(gst_bin_get_by_name(GST_BIN(ladder.get()), ("sink_" + r.name).c_str()));
      auto mux = gst::Element::adopt(gst_bin_get_by_name(GST_BIN(ladder.get()), ("mux_" + r.name).c_str()));
      if (!rend->sink || !mux) throw std::runtime_error("ladder pipeline lacks mux_/sink_ for " + r.name);
      const char* video_pad = opts.mpegts ? "sink_65" : "video_0";
      rend->probe_pad = gst::Pad::adopt(gst_element_get_static_pad(mux.get(), video_pad));
      if (!rend->probe_pad) throw std::runtime_error(fmt::format("mux_{} has no {} pad", r.name, video_pad));
      renditions.push_back(std::move(rend));
    }
    for (auto& rend : renditions) {
      gst_pad_add_probe(rend->probe_pad.get(), GST_PAD_PROBE_TYPE_BUFFER, &Impl::on_mux_input,
                        rend.get(), nullptr);
      GstAppSinkCallbacks callbacks{};
      callbacks.new_sample = &Impl::on_new_sample;
      gst_app_sink_set_callbacks(GST_APP_SINK(rend->sink.get()), &callbacks, new CallbackData{this, rend.get()},
                                 [](gpointer p) { delete static_cast<CallbackData*>(p); });
    }
    frame_grid = std::make_unique<FrameGrid>(cfg.ingest.framerate);
    sample_grid = std::make_unique<SampleGrid>(cfg.encoder.audio_rate);
    bytes_per_sample_frame = 2 * cfg.encoder.audio_channels;  // S16LE, as ladder-input.pipeline asks
    gst::Pad selected = gst::Pad::adopt(gst_element_get_static_pad(video_select.get(), "src"));
    gst_pad_add_probe(selected.get(), GST_PAD_PROBE_TYPE_BUFFER, &Impl::on_selected_video, frame_grid.get(), nullptr);
    gst::Pad heard = gst::Pad::adopt(gst_element_get_static_pad(audio_select.get(), "src"));
    gst_pad_add_probe(heard.get(), GST_PAD_PROBE_TYPE_BUFFER, &Impl::on_selected_audio, this, nullptr);
    gst_pad_add_probe(selected.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &Impl::on_selected_event,
                      &video_segment_sent, nullptr);
    gst_pad_add_probe(heard.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &Impl::on_selected_event,
                      &audio_segment_sent, nullptr);
    // The primary is on air from the start, as the supervisor assumes: an input
    // that is up at once (test:, a file) then needs no switch, and one that is
    // not shows black for the first input_timeout_s, then the slate.
    select(Output::primary, input_count);
    status.set_output(to_string(Output::primary));
  }

  // Time stays regular across switches (see time_grid.hpp): pictures leaving the
  // video selector go onto the frame grid, sound leaving the audio selector is
  // stitched sample-exact. Both probes run on the selectors' streaming threads.
  std::unique_ptr<FrameGrid> frame_grid;
  std::unique_ptr<SampleGrid> sample_grid;
  int bytes_per_sample_frame = 4;

  static GstPadProbeReturn on_selected_video(GstPad*, GstPadProbeInfo* info, gpointer user) {
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

  static GstPadProbeReturn on_selected_audio(GstPad*, GstPadProbeInfo* info, gpointer user) {
    auto* self = static_cast<Impl*>(user);
    GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
    if (!buf || GST_BUFFER_PTS(buf) == GST_CLOCK_TIME_NONE) return GST_PAD_PROBE_OK;
    const int64_t count = static_cast<int64_t>(gst_buffer_get_size(buf)) / self->bytes_per_sample_frame;
    auto place = self->sample_grid->place(static_cast<int64_t>(GST_BUFFER_PTS(buf)), count);
    if (!place) return GST_PAD_PROBE_DROP;
    if (place->skip > 0) {
      GstBuffer* tail = gst_buffer_copy_region(buf, GST_BUFFER_COPY_ALL, place->skip * self->bytes_per_sample_frame,
                                               (count - place->skip) * self->bytes_per_sample_frame);
      gst_buffer_unref(buf);
      buf = tail;
    }
    buf = gst_buffer_make_writable(buf);
    GST_BUFFER_PTS(buf) = static_cast<GstClockTime>(place->pts_ns);
    GST_BUFFER_DURATION(buf) = static_cast<GstClockTime>(self->sample_grid->duration_ns(count - place->skip));
    GST_PAD_PROBE_INFO_DATA(info) = buf;
    return GST_PAD_PROBE_OK;
  }

  // input-selector re-sends the segment of the branch it switches to. Every
  // branch runs on the ladder's clock from the same start, so a repeat says
  // nothing new, but it makes the AAC encoder drain and restart its timestamps.
  static GstPadProbeReturn on_selected_event(GstPad*, GstPadProbeInfo* info, gpointer user) {
    auto* seen = static_cast<std::atomic<bool>*>(user);
    GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
    if (!event || GST_EVENT_TYPE(event) != GST_EVENT_SEGMENT) return GST_PAD_PROBE_OK;
    return seen->exchange(true) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
  }
  std::atomic<bool> video_segment_sent{false}, audio_segment_sent{false};

  // Puts `output` on air: selector pads sink_0 (primary), sink_1 (backup) and
  // the slate after the inputs.
  void select(Output output, int input_count) {
    int index = output == Output::slate ? input_count : static_cast<int>(output);
    auto pad_name = fmt::format("sink_{}", index);
    for (auto* selector : {video_select.get(), audio_select.get()}) {
      gst::Pad pad = gst::Pad::adopt(gst_element_get_static_pad(selector, pad_name.c_str()));
      if (!pad) {
        log->error("selector {} has no pad {}", GST_ELEMENT_NAME(selector), pad_name);
        continue;
      }
      g_object_set(selector, "active-pad", pad.get(), nullptr);
    }
  }

  struct CallbackData {
    Impl* self;
    Rendition* rendition;
  };

  // The first video buffer into a muxer is decode time zero of its fragments;
  // its capture wall clock anchors every PDT of the rendition.
  static GstPadProbeReturn on_mux_input(GstPad* pad, GstPadProbeInfo* info, gpointer user) {
    auto* rend = static_cast<Rendition*>(user);
    GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
    GstElement* mux = GST_ELEMENT(gst_pad_get_parent(pad));
    if (mux && buf && GST_BUFFER_DTS_OR_PTS(buf) != GST_CLOCK_TIME_NONE) {
      GstEvent* seg_event = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
      if (seg_event) {
        const GstSegment* segment = nullptr;
        gst_event_parse_segment(seg_event, &segment);
        guint64 running = gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_DTS_OR_PTS(buf));
        GstClockTime base = gst_element_get_base_time(mux);
        if (running != GST_CLOCK_TIME_NONE)
          rend->first_frame_epoch_ms.store(static_cast<int64_t>((base + running) / GST_MSECOND));
        gst_event_unref(seg_event);
      }
    }
    if (mux) gst_object_unref(mux);
    return GST_PAD_PROBE_REMOVE;
  }

  static GstFlowReturn on_new_sample(GstAppSink* sink, gpointer user) {
    auto* data = static_cast<CallbackData*>(user);
    auto* rend = data->rendition;
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_EOS;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (!rend->failed && buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
      try {
        if (!rend->packager->has_time_origin()) {
          auto origin = rend->first_frame_epoch_ms.load();
          rend->packager->set_time_origin(origin ? origin : now_epoch_ms());
        }
        rend->packager->push(std::string_view(reinterpret_cast<const char*>(map.data), map.size));
      } catch (const std::exception& e) {
        // A packaging fault stops this rendition only; the others and the edge go on.
        rend->failed = true;
        data->self->log->error("rendition {}: packaging failed: {}", rend->name, e.what());
        data->self->status.record_error("packager", e.what());
      }
      gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }

  static gboolean on_ladder_message(GstBus*, GstMessage* msg, gpointer user) {
    auto* self = static_cast<Impl*>(user);
    switch (GST_MESSAGE_TYPE(msg)) {
      case GST_MESSAGE_ERROR: {
        auto p = gst::read_problem(msg);
        self->log->error("ladder error from {}: {} ({})", p.element, p.message, p.debug);
        self->status.record_error(p.element, p.message);
        self->status.set_state(health::IngestState::failed);
        break;
      }
      case GST_MESSAGE_WARNING: {
        auto p = gst::read_problem(msg);
        self->log->warn("ladder warning from {}: {}", p.element, p.message);
        self->status.record_warning(p.element, p.message);
        break;
      }
      case GST_MESSAGE_ELEMENT:
        read_programme_level(msg, self->status);
        break;
      default:
        break;
    }
    return G_SOURCE_CONTINUE;
  }

  // The `level` element's report: "rms" and "peak", one dB value per channel.
  static void read_programme_level(GstMessage* msg, health::IngestStatus& status) {
    const GstStructure* s = gst_message_get_structure(msg);
    if (!s || !gst_structure_has_name(s, "level")) return;
    auto loudest = [&](const char* field) -> std::optional<double> {
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
    };
    auto rms = loudest("rms");
    auto peak = loudest("peak");
    if (rms) status.set_audio_level(*rms, peak.value_or(*rms));
  }

  static gboolean on_tick(gpointer user) {
    static_cast<Impl*>(user)->tick();
    return G_SOURCE_CONTINUE;
  }

  void tick() {
    const int64_t now = now_monotonic_ms();
    for (auto& input : inputs) input->tick(now);
    InputSample primary{inputs[0]->last_frame_ms(), inputs[0]->ended()};
    InputSample backup;
    if (inputs.size() > 1) backup = {inputs[1]->last_frame_ms(), inputs[1]->ended()};
    auto before = status.snapshot().state;
    Decision d = supervisor->tick(now, primary, backup);
    if (d.input_lost) {
      status.record_loss();
      log->warn("input lost: {}", d.output == Output::backup ? "switching to the backup" : "holding the last picture");
    }
    if (d.switched) {
      select(d.output, static_cast<int>(inputs.size()));
      status.set_output(to_string(d.output));
      log->info("on air: {}", to_string(d.output));
    }
    if (before != health::IngestState::failed) status.set_state(d.state);
    std::vector<health::InputInfo> infos;
    for (auto& input : inputs) infos.push_back(input->info(now));
    status.set_inputs(std::move(infos));
    if (thumbnail) take_thumbnail();
  }

  void take_thumbnail() {
    GstSample* sample = gst_app_sink_try_pull_sample(GST_APP_SINK(thumbnail.get()), 0);
    if (!sample) return;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
      status.set_thumbnail(std::string(reinterpret_cast<const char*>(map.data), map.size));
      gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
  }

  void start() {
    check_prerequisites(cfg);
    channel = fmt::format("relay-{}", ::getpid());
    // PDT is the capture wall clock: all pipelines run on a realtime system clock,
    // so base time + running time is Unix time.
    clock = gst_system_clock_obtain();
    g_object_set(clock, "clock-type", GST_CLOCK_TYPE_REALTIME, nullptr);
    build_ladder();

    context = g_main_context_new();
    loop = g_main_loop_new(context, FALSE);
    auto report = [this](bool error, const std::string& element, const std::string& message) {
      if (error)
        status.record_error(element, message);
      else
        status.record_warning(element, message);
    };
    for (const auto& uri : {cfg.ingest.source, cfg.ingest.backup_source}) {
      if (!uri.empty() && config::parse_source_uri(uri).srt_listener()) watch_srt_refusals(status);
    }
    std::vector<std::string> uris = {cfg.ingest.source};
    if (!cfg.ingest.backup_source.empty()) uris.push_back(cfg.ingest.backup_source);
    for (size_t i = 0; i < uris.size(); ++i) {
      inputs.push_back(std::make_unique<SourceInput>(cfg, static_cast<int>(i), config::parse_source_uri(uris[i]),
                                                     input_channel(channel, static_cast<int>(i)), context, clock,
                                                     report));
    }
    SupervisorTiming timing;
    timing.input_timeout_ms = static_cast<int64_t>(cfg.ingest.input_timeout_s * 1000);
    timing.slate_after_ms = static_cast<int64_t>(cfg.ingest.slate_after_s * 1000);
    timing.failback_ms = static_cast<int64_t>(cfg.ingest.failback_s * 1000);
    supervisor = std::make_unique<Supervisor>(timing, inputs.size() > 1);

    gst::Bus bus = gst::Bus::adopt(gst_element_get_bus(ladder.get()));
    GSource* src = gst_bus_create_watch(bus.get());
    g_source_set_callback(src, G_SOURCE_FUNC(&Impl::on_ladder_message), this, nullptr);
    ladder_watch = g_source_attach(src, context);
    g_source_unref(src);

    if (gst_element_set_state(ladder.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
      throw std::runtime_error("cannot start the encoder pipeline (see the errors above)");
    for (auto& input : inputs) input->start();

    GSource* timer = g_timeout_source_new(kTickMs);
    g_source_set_callback(timer, &Impl::on_tick, this, nullptr);
    tick_source = g_source_attach(timer, context);
    g_source_unref(timer);

    thread = std::thread([this] {
      g_main_context_push_thread_default(context);
      g_main_loop_run(loop);
      g_main_context_pop_thread_default(context);
    });
    log->info("ingest started: {}{} → {} renditions", redact_uri(cfg.ingest.source),
              cfg.ingest.backup_source.empty() ? "" : fmt::format(" (backup {})", redact_uri(cfg.ingest.backup_source)),
              renditions.size());
  }

  void stop() {
    if (thread.joinable()) {
      // Quit from inside the loop (as the webhook sender does): g_main_loop_run()
      // clears an earlier quit, so a g_main_loop_quit() from here, before the thread
      // has entered the loop (a relay stopped just after it started), would be lost
      // and the join would hang.
      g_main_context_invoke(
          context,
          [](gpointer data) -> gboolean {
            g_main_loop_quit(static_cast<GMainLoop*>(data));
            return G_SOURCE_REMOVE;
          },
          loop);
      thread.join();
    }
    inputs.clear();
    if (ladder) gst_element_set_state(ladder.get(), GST_STATE_NULL);
    if (context) {
      for (guint id : {ladder_watch, tick_source}) {
        if (!id) continue;
        if (GSource* s = g_main_context_find_source_by_id(context, id)) g_source_destroy(s);
      }
      ladder_watch = tick_source = 0;
    }
    if (loop) {
      g_main_loop_unref(loop);
      loop = nullptr;
    }
    if (context) {
      g_main_context_unref(context);
      context = nullptr;
    }
    renditions.clear();
    video_select.reset();
    audio_select.reset();
    thumbnail.reset();
    ladder.reset();
    if (clock) {
      gst_object_unref(clock);
      clock = nullptr;
    }
  }
};

Ingest::Ingest(const config::Config& cfg, hls::Store& store, hls::MasterPlaylist& master,
               health::IngestStatus& status)
    : impl_(std::make_unique<Impl>(cfg, store, master, status)) {}

Ingest::~Ingest() { stop(); }

void Ingest::start() { impl_->start(); }
void Ingest::stop() { impl_->stop(); }

}  // namespace relay::ingest
