#include "ingest/ingest.hpp"

#include <memory>

#include <fmt/format.h>
#include <gst/gst.h>
#include <unistd.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/redact.hpp"
#include "gst/handles.hpp"
#include "ingest/failover.hpp"
#include "ingest/interpreter_input.hpp"
#include "ingest/ladder.hpp"
#include "ingest/main_loop_thread.hpp"
#include "ingest/pipeline_builder.hpp"
#include "ingest/preflight.hpp"

namespace relay::ingest {
namespace {

constexpr guint kTickMs = 100;

}  // namespace

struct Ingest::Impl {
  const config::Config& cfg;
  hls::Store& store;
  hls::MasterPlaylist& master;
  health::IngestStatus& status;
  std::shared_ptr<spdlog::logger> log = relay::log::get("ingest");

  gst::ObjectPtr<GstClock> clock;
  std::unique_ptr<Ladder> ladder;
  std::unique_ptr<MainLoopThread> loop;
  std::unique_ptr<Failover> failover;
  std::vector<std::unique_ptr<InterpreterInput>> interpreters;  // one per [[audio]] track
  guint tick_source = 0;

  Impl(const config::Config& c, hls::Store& s, hls::MasterPlaylist& m, health::IngestStatus& st)
      : cfg(c), store(s), master(m), status(st) {}

  void start() {
    check_prerequisites(cfg);
    const auto channel = fmt::format("relay-{}", ::getpid());
    // PDT is the capture wall clock: all pipelines run on a realtime system clock,
    // so base time + running time is Unix time.
    clock = gst::ObjectPtr<GstClock>::adopt(gst_system_clock_obtain());
    g_object_set(clock.get(), "clock-type", GST_CLOCK_TYPE_REALTIME, nullptr);
    ladder = std::make_unique<Ladder>(cfg, channel, clock.get(), store, master, status);

    loop = std::make_unique<MainLoopThread>();
    failover = std::make_unique<Failover>(cfg, channel, loop->context(), clock.get(), ladder->selectors(), status);
    ladder->watch_bus(loop->context());
    ladder->play();
    failover->start();
    for (size_t i = 0; i < cfg.audio.size(); ++i) {
      interpreters.push_back(std::make_unique<InterpreterInput>(cfg, i, channel,
                                                                loop->context(), clock.get()));
      interpreters.back()->start();
    }

    GSource* timer = g_timeout_source_new(kTickMs);
    g_source_set_callback(timer, &Impl::on_tick, this, nullptr);
    tick_source = g_source_attach(timer, loop->context());
    g_source_unref(timer);

    loop->run();
    log->info("ingest started: {}{} → {} renditions", text::redact_secrets(cfg.ingest.source),
              cfg.ingest.backup_source.empty() ? "" : fmt::format(" (backup {})", text::redact_secrets(cfg.ingest.backup_source)),
              ladder->rendition_count());
  }

  static gboolean on_tick(gpointer user) {
    auto* self = static_cast<Impl*>(user);
    self->failover->tick(now_monotonic_ms());
    self->ladder->take_thumbnail();
    if (!self->interpreters.empty()) {
      const int64_t now = now_monotonic_ms();
      std::vector<health::AudioTrackInfo> tracks;
      for (auto& input : self->interpreters) {
        input->tick(now);
        tracks.push_back(input->info(now));
      }
      self->status.set_audio_tracks(std::move(tracks));
    }
    return G_SOURCE_CONTINUE;
  }

  // Safe to call again, and after a start() that threw part way.
  void stop() {
    if (loop) loop->stop();
    failover.reset();
    interpreters.clear();
    if (ladder) ladder->stop();
    if (loop && tick_source) {
      if (GSource* s = g_main_context_find_source_by_id(loop->context(), tick_source)) g_source_destroy(s);
    }
    tick_source = 0;
    loop.reset();
    ladder.reset();
    clock.reset();
  }
};

Ingest::Ingest(const config::Config& cfg, hls::Store& store, hls::MasterPlaylist& master,
               health::IngestStatus& status)
    : impl_(std::make_unique<Impl>(cfg, store, master, status)) {}

Ingest::~Ingest() { stop(); }

void Ingest::start() { impl_->start(); }
void Ingest::stop() { impl_->stop(); }

}  // namespace relay::ingest
