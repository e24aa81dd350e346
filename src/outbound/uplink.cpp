#include "outbound/uplink.hpp"

#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/redact.hpp"
#include "outbound/uplink_queue.hpp"

namespace relay::outbound {
namespace {

constexpr const char* kPlaylistType = "application/vnd.apple.mpegurl";
constexpr size_t kReplyQuote = 200;  // characters of a refusal's body worth logging

bool is_success(guint status) { return status >= 200 && status < 300; }
// The receiver will never take this object: a bad playlist or one too large.
bool is_refusal(guint status) { return status == 400 || status == 413; }

}  // namespace

// Everything below runs on the sender's thread, except the publish listener
// (on the publishing thread: it marks the rendition and wakes this thread),
// status() and the constructor and destructor. Queues and counters are shared
// with status() under `mutex`.
struct UplinkSender::Impl {
  // One ordered stream of requests: a rendition's, or the master playlist's.
  struct Lane {
    Impl* owner = nullptr;
    std::optional<RenditionUplinkQueue> queue;  // none for the master's lane
    std::optional<UplinkObject> master_next, master_sending;
    std::optional<UplinkObject> sending;  // what is in flight, for counting and messages
    int attempt = 0;                      // failed attempts in a row
    GSource* retry_source = nullptr;

    std::optional<UplinkObject> begin_send() {
      if (queue) return queue->begin_send();
      if (master_sending || !master_next) return std::nullopt;
      master_sending = std::move(master_next);
      master_next.reset();
      return master_sending;
    }
    void finish_send() {
      if (queue) return queue->finish_send();
      master_sending.reset();
    }
    void retry_later() {
      if (queue) return queue->retry_later();
      if (!master_next) master_next = std::move(master_sending);  // unless a newer one came
      master_sending.reset();
    }
  };

  // The store's listener rings this; the destructor disconnects it, so a publish
  // racing with the shutdown finds nobody rather than a freed sender.
  struct Doorbell {
    std::mutex mutex;
    Impl* impl = nullptr;
  };

  Impl(UplinkOptions o, hls::Store& s)
      : options(std::move(o)), store(s), log(log::get("uplink")), dirty(s.rendition_count()) {
    while (!options.url.empty() && options.url.back() == '/') options.url.pop_back();
    const size_t n = store.rendition_count();
    const UplinkLimits limits{options.backlog_s, std::max<size_t>(1, options.backlog_bytes / std::max<size_t>(1, n))};
    for (size_t i = 0; i <= n; ++i) {
      auto lane = std::make_unique<Lane>();
      lane->owner = this;
      if (i < n) lane->queue.emplace(store.names()[i], limits);
      lanes.push_back(std::move(lane));
    }
    for (auto& d : dirty) d.store(true);  // what was published before the sender started
  }

  void run() {
    g_main_context_push_thread_default(context);
    const auto connections = static_cast<guint>(lanes.size() + 1);
    session = soup_session_new_with_options(
        "timeout", static_cast<guint>(std::max(1.0, std::ceil(options.timeout_s))), "max-conns-per-host", connections,
        "max-conns", connections, "user-agent", "seminar-relay", nullptr);
    collect();
    g_main_loop_run(loop);
    g_cancellable_cancel(cancellable);
    // Let cancelled requests finish their callbacks while this object is alive.
    while (g_main_context_iteration(context, FALSE)) {
    }
    for (auto& lane : lanes) {
      if (!lane->retry_source) continue;
      g_source_destroy(lane->retry_source);
      g_source_unref(lane->retry_source);
      lane->retry_source = nullptr;
    }
    g_object_unref(session);
    while (g_main_context_iteration(context, FALSE)) {
    }
    g_main_context_pop_thread_default(context);
  }

  // On the publishing thread: keep it short.
  void on_publish(size_t rendition) {
    if (rendition < dirty.size()) dirty[rendition].store(true, std::memory_order_release);
    if (!wake_pending.exchange(true, std::memory_order_acq_rel)) g_main_context_invoke(context, &Impl::on_wake, this);
  }

  static gboolean on_wake(gpointer data) {
    auto* self = static_cast<Impl*>(data);
    self->wake_pending.store(false, std::memory_order_release);
    self->collect();
    return G_SOURCE_REMOVE;
  }

  // Queues what the store published since the last look, then sends.
  void collect() {
    if (stopping) return;
    const int64_t now = now_monotonic_ms();
    {
      std::lock_guard lock(mutex);
      for (size_t i = 0; i < dirty.size(); ++i) {
        if (!dirty[i].exchange(false, std::memory_order_acq_rel)) continue;
        if (auto snapshot = store.rendition(i)) lanes[i]->queue->update(*snapshot, now);
      }
      Bytes master = store.master();
      if (master && master != queued_master) {
        queued_master = master;
        lanes.back()->master_next =
            UplinkObject{UplinkObjectKind::playlist, "master.m3u8", kPlaylistType, master, 0, 0, false, now};
      }
    }
    for (auto& lane : lanes) start_next(*lane);
  }

  void start_next(Lane& lane) {
    if (stopping || lane.retry_source || lane.sending) return;
    std::optional<UplinkObject> object;
    {
      std::lock_guard lock(mutex);
      object = lane.begin_send();
    }
    if (!object) return;
    const std::string url = options.url + "/" + object->path;
    SoupMessage* msg = soup_message_new("PUT", url.c_str());
    if (!msg) {
      log->error("uplink: '{}' is not a URL libsoup accepts; {} is not sent", url_for_log(), object->path);
      std::lock_guard lock(mutex);
      lane.finish_send();
      ++counters.requests_refused;
      return;
    }
    soup_message_add_flags(msg, SOUP_MESSAGE_NO_REDIRECT);
    // The body is the published media itself: the GBytes keeps it alive, nothing is copied.
    auto* holder = new Bytes(object->data);
    GBytes* body = g_bytes_new_with_free_func((*holder)->data(), (*holder)->size(),
                                              [](gpointer p) { delete static_cast<Bytes*>(p); }, holder);
    soup_message_set_request_body_from_bytes(msg, std::string(object->content_type).c_str(), body);
    g_bytes_unref(body);
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
                                 ("Bearer " + options.token).c_str());
    lane.sending = std::move(object);
    soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, cancellable, &Impl::on_sent, &lane);
    g_object_unref(msg);  // the session holds its own reference while sending
  }

  static void on_sent(GObject* source, GAsyncResult* result, gpointer data) {
    Lane& lane = *static_cast<Lane*>(data);
    Impl& self = *lane.owner;
    GError* error = nullptr;
    SoupMessage* msg = soup_session_get_async_result_message(SOUP_SESSION(source), result);
    const guint status = msg ? soup_message_get_status(msg) : 0;
    GBytes* reply = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
    std::string quote;
    if (reply) {
      gsize size = 0;
      const auto* text = static_cast<const char*>(g_bytes_get_data(reply, &size));
      if (text) quote.assign(text, std::min<gsize>(size, kReplyQuote));
      g_bytes_unref(reply);
    }
    if (error) {
      const bool cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      std::string what = error->message;
      g_error_free(error);
      if (cancelled) {
        lane.sending.reset();
        return;
      }
      self.failed(lane, what);
    } else if (is_success(status)) {
      self.delivered(lane);
    } else if (is_refusal(status)) {
      self.refused(lane, status, quote);
    } else {
      self.failed(lane, fmt::format("answered {}{}", status, quote.empty() ? "" : ": " + quote));
    }
    self.start_next(lane);
  }

  void delivered(Lane& lane) {
    const UplinkObject& o = *lane.sending;
    std::lock_guard lock(mutex);
    ++counters.requests_ok;
    const uint64_t size = o.data->size();
    counters.bytes_pushed += size;
    if (o.kind != UplinkObjectKind::playlist) counters.media_bytes_pushed += size;
    lane.finish_send();
    if (lane.attempt > 0) {
      log->info("uplink: {} pushed again after {} failed attempts", o.path, lane.attempt);
      lane.attempt = 0;
      --failing_lanes;
    }
    lane.sending.reset();
  }

  void refused(Lane& lane, guint status, const std::string& quote) {
    const UplinkObject& o = *lane.sending;
    log->warn("uplink: {}/{} refused with {} ({}); not sent again", url_for_log(), o.path, status, quote);
    std::lock_guard lock(mutex);
    ++counters.requests_refused;
    counters.last_error = text::redact_secrets(fmt::format("PUT {}: refused with {}", o.path, status));
    lane.finish_send();
    if (lane.attempt > 0) {
      lane.attempt = 0;
      --failing_lanes;
    }
    lane.sending.reset();
  }

  void failed(Lane& lane, const std::string& what) {
    const UplinkObject& o = *lane.sending;
    std::string error = text::redact_secrets(fmt::format("PUT {}: {}", o.path, what));
    // One line per outage and lane, not one per attempt.
    if (lane.attempt == 0) log->warn("uplink {}: {}; trying again", url_for_log(), error);
    std::lock_guard lock(mutex);
    ++counters.requests_failed;
    ++counters.retries;
    counters.last_error = std::move(error);
    lane.retry_later();
    if (lane.attempt == 0) ++failing_lanes;
    const double wait_s = std::min(options.max_backoff_s, options.first_backoff_s * std::pow(2.0, lane.attempt));
    ++lane.attempt;
    lane.sending.reset();
    lane.retry_source = g_timeout_source_new(static_cast<guint>(wait_s * 1000));
    g_source_set_callback(lane.retry_source, &Impl::on_retry, &lane, nullptr);
    g_source_attach(lane.retry_source, context);
  }

  static gboolean on_retry(gpointer data) {
    Lane& lane = *static_cast<Lane*>(data);
    g_source_unref(lane.retry_source);
    lane.retry_source = nullptr;
    Impl& self = *lane.owner;
    // Whatever came during the wait is queued before the next attempt.
    self.collect();
    self.start_next(lane);
    return G_SOURCE_REMOVE;
  }

  health::UplinkStatus status() const {
    std::lock_guard lock(mutex);
    health::UplinkStatus s = counters;
    s.state = failing_lanes > 0 ? "retrying" : "pushing";
    const int64_t now = now_monotonic_ms();
    for (const auto& lane : lanes) {
      if (!lane->queue) continue;
      s.backlog_s = std::max(s.backlog_s, lane->queue->backlog_s());
      s.backlog_bytes += lane->queue->backlog_bytes();
      s.segments_dropped += lane->queue->segments_dropped();
      if (auto oldest = lane->queue->oldest_queued_ms()) s.lag_s = std::max(s.lag_s, (now - *oldest) / 1000.0);
    }
    return s;
  }

  // The base URL as logs may show it.
  std::string url_for_log() const { return text::redact_secrets(options.url); }

  UplinkOptions options;
  hls::Store& store;
  std::shared_ptr<spdlog::logger> log;
  std::vector<std::atomic<bool>> dirty;  // per rendition: published since the last collect()
  std::atomic<bool> wake_pending{false};
  std::shared_ptr<Doorbell> doorbell = std::make_shared<Doorbell>();
  uint64_t listener_id = 0;

  GMainContext* context = g_main_context_new();
  GMainLoop* loop = g_main_loop_new(context, FALSE);
  GCancellable* cancellable = g_cancellable_new();
  SoupSession* session = nullptr;
  bool stopping = false;
  Bytes queued_master;

  mutable std::mutex mutex;
  std::vector<std::unique_ptr<Lane>> lanes;  // one per rendition, then the master's
  health::UplinkStatus counters;             // the counting fields only
  int failing_lanes = 0;
  std::thread thread;
};

UplinkSender::UplinkSender(UplinkOptions options, hls::Store& store)
    : impl_(std::make_unique<Impl>(std::move(options), store)) {
  GUri* uri = g_uri_parse(impl_->options.url.c_str(), static_cast<GUriFlags>(SOUP_HTTP_URI_FLAGS), nullptr);
  if (!uri) throw std::runtime_error(fmt::format("uplink url '{}' is not a valid URL", impl_->url_for_log()));
  const std::string scheme = g_uri_get_scheme(uri) ? g_uri_get_scheme(uri) : "";
  g_uri_unref(uri);
  if (scheme != "http" && scheme != "https")
    throw std::runtime_error(fmt::format("uplink url '{}' is not http:// or https://", impl_->url_for_log()));
  impl_->doorbell->impl = impl_.get();
  impl_->listener_id = store.subscribe([doorbell = impl_->doorbell](size_t rendition, uint64_t) {
    std::lock_guard lock(doorbell->mutex);
    if (doorbell->impl) doorbell->impl->on_publish(rendition);
  });
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
  impl_->log->info("uplink: pushing {} renditions to {}", store.rendition_count(), impl_->url_for_log());
}

UplinkSender::~UplinkSender() {
  Impl& s = *impl_;
  s.store.unsubscribe(s.listener_id);
  {
    std::lock_guard lock(s.doorbell->mutex);
    s.doorbell->impl = nullptr;
  }
  g_main_context_invoke(
      s.context,
      [](gpointer data) -> gboolean {
        auto* impl = static_cast<Impl*>(data);
        impl->stopping = true;
        g_main_loop_quit(impl->loop);
        return G_SOURCE_REMOVE;
      },
      &s);
  s.thread.join();
  g_object_unref(s.cancellable);
  g_main_loop_unref(s.loop);
  g_main_context_unref(s.context);
}

health::UplinkStatus UplinkSender::status() const { return impl_->status(); }

}  // namespace relay::outbound
