#include "ingest/ingest.hpp"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <unistd.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "gst/handles.hpp"
#include "gst/init.hpp"
#include "ingest/pipeline_builder.hpp"

namespace relay::ingest {
namespace {

const std::vector<std::string> kRequiredElements = {
    "videotestsrc", "audiotestsrc", "clockoverlay", "uridecodebin", "videoconvert", "videoscale",
    "videorate",    "audioconvert", "audioresample", "intervideosink", "intervideosrc", "interaudiosink",
    "interaudiosrc", "x264enc",     "h264parse",     "avenc_aac",     "aacparse",      "mp4mux",
    "appsink",      "tee",          "queue",         "mpegtsmux"};

constexpr const char* kVideoEnded = "relay-source-video-ended";

std::string element_name(GstObject* obj) {
  if (!obj) return "pipeline";
  gst::CharPtr name(gst_object_get_path_string(obj));
  return gst::to_string(name);
}

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
  gst::Element source;
  gst::Element ladder;
  guint source_watch = 0, ladder_watch = 0;
  std::vector<std::unique_ptr<Rendition>> renditions;
  bool is_file = false;

  Impl(const config::Config& c, hls::Store& s, hls::MasterPlaylist& m, health::IngestStatus& st)
      : cfg(c), store(s), master(m), status(st) {}

  static gst::Element parse(const std::string& text, const std::string& what) {
    GError* raw_error = nullptr;
    GstElement* p = gst_parse_launch_full(text.c_str(), nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &raw_error);
    gst::ErrorPtr error(raw_error);
    if (error) {
      if (p) gst_object_unref(p);
      throw std::runtime_error(fmt::format("cannot build the {} pipeline: {}", what, error->message));
    }
    return gst::Element::adopt(p);
  }

  void build() {
    auto missing = gst::init_and_check(kRequiredElements);
    if (!missing.empty()) {
      std::string list;
      for (auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      throw std::runtime_error(fmt::format(
          "GStreamer elements missing: {} (run scripts/setup.sh to install the plugin packages)", list));
    }
    auto kind = source_kind(cfg.ingest.source);
    is_file = kind == "file";
    if (is_file) {
      auto path = cfg.ingest.source.substr(7);
      if (::access(path.c_str(), R_OK) != 0)
        throw std::runtime_error(
            fmt::format("cannot open ingest.source '{}': {}", cfg.ingest.source, std::strerror(errno)));
      if (std::filesystem::is_directory(path))
        throw std::runtime_error(fmt::format("cannot open ingest.source '{}': is a directory", cfg.ingest.source));
    }
    std::string channel = fmt::format("relay-{}", ::getpid());
    auto texts = build_pipelines(cfg, channel);
    log->debug("source pipeline: {}", texts.source);
    log->debug("ladder pipeline: {}", texts.ladder);
    source = parse(texts.source, "source");
    ladder = parse(texts.ladder, "ladder");

    // PDT is the capture wall clock: both pipelines run on a realtime system clock,
    // so base time + running time is Unix time.
    GstClock* clock = gst_system_clock_obtain();
    g_object_set(clock, "clock-type", GST_CLOCK_TYPE_REALTIME, nullptr);
    gst_pipeline_use_clock(GST_PIPELINE(source.get()), clock);
    gst_pipeline_use_clock(GST_PIPELINE(ladder.get()), clock);
    gst_object_unref(clock);

    auto video_sink = gst::Element::adopt(gst_bin_get_by_name(GST_BIN(source.get()), "source_video_sink"));
    if (!video_sink) throw std::runtime_error("source pipeline lacks source_video_sink");
    gst::Pad video_in = gst::Pad::adopt(gst_element_get_static_pad(video_sink.get(), "sink"));
    gst_pad_add_probe(video_in.get(), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, &Impl::on_video_event, this, nullptr);

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
        data->self->status.advance(health::IngestState::starting, health::IngestState::live);
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

  static gboolean on_bus_message(GstBus*, GstMessage* msg, gpointer user) {
    auto* self = static_cast<Impl*>(user);
    self->handle_message(msg);
    return G_SOURCE_CONTINUE;
  }

  void handle_message(GstMessage* msg) {
    bool from_source = GST_MESSAGE_SRC(msg) && is_in(GST_MESSAGE_SRC(msg), source.get());
    const char* side = from_source ? "source" : "ladder";
    switch (GST_MESSAGE_TYPE(msg)) {
      case GST_MESSAGE_ERROR: {
        GError* raw = nullptr;
        gchar* debug = nullptr;
        gst_message_parse_error(msg, &raw, &debug);
        gst::ErrorPtr err(raw);
        gst::CharPtr dbg(debug);
        auto name = element_name(GST_MESSAGE_SRC(msg));
        log->error("{} error from {}: {} ({})", side, name, err ? err->message : "?", gst::to_string(dbg));
        status.record_error(name, err ? err->message : "unknown error");
        if (from_source) {
          // The ladder keeps running (black picture, silence) so players stay attached.
          gst_element_set_state(source.get(), GST_STATE_NULL);
          status.set_state(health::IngestState::failed);
        } else {
          status.set_state(health::IngestState::failed);
        }
        break;
      }
      case GST_MESSAGE_WARNING: {
        GError* raw = nullptr;
        gchar* debug = nullptr;
        gst_message_parse_warning(msg, &raw, &debug);
        gst::ErrorPtr err(raw);
        gst::CharPtr dbg(debug);
        auto name = element_name(GST_MESSAGE_SRC(msg));
        log->warn("{} warning from {}: {}", side, name, err ? err->message : "?");
        status.record_warning(name, err ? err->message : "unknown warning");
        break;
      }
      case GST_MESSAGE_EOS:
        if (from_source) on_source_end();
        break;
      case GST_MESSAGE_APPLICATION:
        if (from_source && gst_message_has_name(msg, kVideoEnded)) on_source_end();
        break;
      default:
        break;
    }
  }

  static bool is_in(GstObject* obj, GstElement* bin) {
    for (GstObject* o = obj; o; o = GST_OBJECT_PARENT(o))
      if (o == GST_OBJECT(bin)) return true;
    return false;
  }

  // The file's end is taken from its video: a file without sound never ends its
  // audio branch, so the pipeline-wide EOS would never come. The EOS is dropped
  // here (the looping seek flushes anyway) and reported to the bus thread.
  static GstPadProbeReturn on_video_event(GstPad* pad, GstPadProbeInfo* info, gpointer user) {
    auto* self = static_cast<Impl*>(user);
    GstEvent* event = GST_PAD_PROBE_INFO_EVENT(info);
    if (!event || GST_EVENT_TYPE(event) != GST_EVENT_EOS) return GST_PAD_PROBE_OK;
    gst_element_post_message(self->source.get(),
                             gst_message_new_application(GST_OBJECT(pad), gst_structure_new_empty(kVideoEnded)));
    return GST_PAD_PROBE_DROP;
  }

  void on_source_end() {
    if (is_file && cfg.ingest.loop) {
      log->info("source reached its end; looping");
      if (!gst_element_seek_simple(source.get(), GST_FORMAT_TIME,
                                   GstSeekFlags(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0)) {
        log->error("cannot seek the source back to its start");
        status.record_error("source", "looping seek failed");
        status.set_state(health::IngestState::ended);
      }
    } else {
      log->warn("source ended");
      status.set_state(health::IngestState::ended);
    }
  }

  // A file source must preroll before the relay calls itself started, so a file
  // GStreamer cannot decode fails at start with its reason rather than later.
  void preroll_source() {
    auto ret = gst_element_set_state(source.get(), GST_STATE_PAUSED);
    if (ret == GST_STATE_CHANGE_FAILURE) throw std::runtime_error(source_error("cannot start the source"));
    gst::Bus bus = gst::Bus::adopt(gst_element_get_bus(source.get()));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      GstMessage* msg = gst_bus_timed_pop_filtered(
          bus.get(), 100 * GST_MSECOND,
          GstMessageType(GST_MESSAGE_ERROR | GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_STATE_CHANGED));
      if (!msg) continue;
      if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError* raw = nullptr;
        gst_message_parse_error(msg, &raw, nullptr);
        gst::ErrorPtr err(raw);
        std::string text = fmt::format("cannot open ingest.source '{}': {}", cfg.ingest.source,
                                       err ? err->message : "unknown error");
        gst_message_unref(msg);
        gst_element_set_state(source.get(), GST_STATE_NULL);
        throw std::runtime_error(text);
      }
      bool done = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ASYNC_DONE;
      gst_message_unref(msg);
      GstState state;
      gst_element_get_state(source.get(), &state, nullptr, 0);
      if (done || state == GST_STATE_PAUSED) {
        // Decoding started; a stream with no video is as unusable as no file at all.
        return;
      }
    }
    gst_element_set_state(source.get(), GST_STATE_NULL);
    throw std::runtime_error(fmt::format("cannot open ingest.source '{}': no media after 15 s", cfg.ingest.source));
  }

  std::string source_error(const std::string& what) { return fmt::format("{} '{}'", what, cfg.ingest.source); }

  void start() {
    build();
    if (is_file) preroll_source();

    context = g_main_context_new();
    loop = g_main_loop_new(context, FALSE);
    auto add_watch = [&](GstElement* pipeline) {
      gst::Bus bus = gst::Bus::adopt(gst_element_get_bus(pipeline));
      GSource* src = gst_bus_create_watch(bus.get());
      g_source_set_callback(src, G_SOURCE_FUNC(&Impl::on_bus_message), this, nullptr);
      guint id = g_source_attach(src, context);
      g_source_unref(src);
      return id;
    };
    source_watch = add_watch(source.get());
    ladder_watch = add_watch(ladder.get());

    if (gst_element_set_state(ladder.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
      throw std::runtime_error("cannot start the encoder pipeline (see the errors above)");
    if (gst_element_set_state(source.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
      throw std::runtime_error(source_error("cannot start the source"));
    thread = std::thread([this] {
      g_main_context_push_thread_default(context);
      g_main_loop_run(loop);
      g_main_context_pop_thread_default(context);
    });
    log->info("ingest started: {} → {} renditions", cfg.ingest.source, renditions.size());
  }

  void stop() {
    if (source) gst_element_set_state(source.get(), GST_STATE_NULL);
    if (ladder) gst_element_set_state(ladder.get(), GST_STATE_NULL);
    if (loop) g_main_loop_quit(loop);
    if (thread.joinable()) thread.join();
    if (context) {
      for (guint id : {source_watch, ladder_watch}) {
        if (!id) continue;
        if (GSource* s = g_main_context_find_source_by_id(context, id)) g_source_destroy(s);
      }
      source_watch = ladder_watch = 0;
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
    source.reset();
    ladder.reset();
  }
};

Ingest::Ingest(const config::Config& cfg, hls::Store& store, hls::MasterPlaylist& master,
               health::IngestStatus& status)
    : impl_(std::make_unique<Impl>(cfg, store, master, status)) {}

Ingest::~Ingest() { stop(); }

void Ingest::start() { impl_->start(); }
void Ingest::stop() { impl_->stop(); }

}  // namespace relay::ingest
