#include "ingest/slate_feed.hpp"

#include <exception>

#include <fmt/format.h>
#include <gst/gst.h>
#include <unistd.h>

#include "common/log.hpp"
#include "gst/handles.hpp"
#include "ingest/ladder.hpp"
#include "ingest/main_loop_thread.hpp"
#include "ingest/preflight.hpp"

namespace relay::ingest {
namespace {

constexpr guint kTickMs = 100;

}  // namespace

struct SlateFeed::Impl {
  const config::Config& cfg;
  std::vector<RenditionSink::Output> outputs;
  health::IngestStatus& status;
  std::atomic<bool>& wanted;
  std::atomic<bool>& running;
  std::shared_ptr<spdlog::logger> log = relay::log::get("ingest");
  gst::ObjectPtr<GstClock> clock;
  std::unique_ptr<MainLoopThread> loop;
  std::unique_ptr<Ladder> ladder;
  guint tick_source = 0;
  unsigned runs = 0;

  Impl(const config::Config& c, std::vector<RenditionSink::Output> o, health::IngestStatus& s,
       std::atomic<bool>& w, std::atomic<bool>& r)
      : cfg(c), outputs(std::move(o)), status(s), wanted(w), running(r) {}

  // On the GLib thread.
  static gboolean on_tick(gpointer user) {
    auto* self = static_cast<Impl*>(user);
    const bool want = self->wanted.load();
    if (want && !self->ladder) self->play();
    if (!want && self->ladder) self->halt();
    return G_SOURCE_CONTINUE;
  }

  void play() {
    try {
      // A fresh pipeline each time: its muxers start a new stream with their own init section.
      auto channel = fmt::format("relay-{}-slate{}", ::getpid(), runs++);
      ladder = std::make_unique<Ladder>(cfg, channel, clock.get(), outputs, status);
      ladder->watch_bus(loop->context());
      ladder->play();
      running.store(true);
      log->info("push receiver: showing the slate");
    } catch (const std::exception& e) {
      log->error("push receiver: the slate cannot start: {}", e.what());
      status.record_error("slate", e.what());
      if (ladder) ladder->stop();
      ladder.reset();
      wanted.store(false);
    }
  }

  void halt() {
    ladder->stop();
    ladder.reset();
    running.store(false);
    log->info("push receiver: slate stopped");
  }
};

SlateFeed::SlateFeed(const config::Config& cfg, std::vector<RenditionSink::Output> outputs,
                     health::IngestStatus& status)
    : impl_(std::make_unique<Impl>(cfg, std::move(outputs), status, wanted_, running_)) {}

SlateFeed::~SlateFeed() { stop(); }

void SlateFeed::start() {
  Impl& i = *impl_;
  if (i.loop) return;
  // GStreamer initialised, and the slate's elements here, before anything is on air.
  check_prerequisites(i.cfg);
  // PDTs come from the receiver's wall clock; the pipeline runs on a realtime clock as the ladder does.
  i.clock = gst::ObjectPtr<GstClock>::adopt(gst_system_clock_obtain());
  g_object_set(i.clock.get(), "clock-type", GST_CLOCK_TYPE_REALTIME, nullptr);
  i.loop = std::make_unique<MainLoopThread>();
  GSource* timer = g_timeout_source_new(kTickMs);
  g_source_set_callback(timer, &Impl::on_tick, &i, nullptr);
  i.tick_source = g_source_attach(timer, i.loop->context());
  g_source_unref(timer);
  i.loop->run();
}

void SlateFeed::stop() {
  Impl& i = *impl_;
  if (!i.loop) return;
  i.loop->stop();
  if (i.ladder) i.ladder->stop();
  if (GSource* s = g_main_context_find_source_by_id(i.loop->context(), i.tick_source)) g_source_destroy(s);
  i.tick_source = 0;
  i.ladder.reset();
  i.loop.reset();
  i.clock.reset();
  running_.store(false);
}

}  // namespace relay::ingest
