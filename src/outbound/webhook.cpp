#include "outbound/webhook.hpp"

#include <libsoup/soup.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/redact.hpp"
#include "common/text.hpp"

namespace relay::outbound {

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  return text::hex_encode(digest, length);
}

std::string webhook_signature(std::string_view secret, int64_t unix_seconds, std::string_view body) {
  std::string signed_text = fmt::format("{}.", unix_seconds);
  signed_text += body;
  return "sha256=" + hmac_sha256_hex(secret, signed_text);
}

std::string alert_payload(const health::AlertEvent& event, uint64_t incident_id, const std::string& source) {
  nlohmann::json body = {
      {"event", event.firing ? "firing" : "resolved"},
      {"rule", event.rule},
      {"incident", incident_id},
      {"message", event.message},
      {"fired_at", format_iso8601_ms(event.fired_at_ms)},
      {"resolved_at", event.firing ? nlohmann::json(nullptr) : nlohmann::json(format_iso8601_ms(event.at_ms))},
      {"source", source},
  };
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Everything below runs on the sender's thread, except send(), counters() and
// the constructor and destructor, which only touch the queue under the mutex and
// hand over with g_main_context_invoke.
struct WebhookSender::Impl {
  explicit Impl(WebhookOptions o) : options(std::move(o)), log(log::get("relay")) {}

  void run() {
    g_main_context_push_thread_default(context);
    session = soup_session_new_with_options(
        "timeout", static_cast<guint>(std::max(1.0, std::ceil(options.timeout_s))), "user-agent", "seminar-relay", nullptr);
    g_main_loop_run(loop);
    g_cancellable_cancel(cancellable);
    // Let cancelled requests finish their callbacks while this object is alive.
    while (g_main_context_iteration(context, FALSE)) {
    }
    if (retry_source) {
      g_source_destroy(retry_source);
      g_source_unref(retry_source);
      retry_source = nullptr;
    }
    g_object_unref(session);
    while (g_main_context_iteration(context, FALSE)) {
    }
    g_main_context_pop_thread_default(context);
  }

  static gboolean kick(gpointer self) {
    static_cast<Impl*>(self)->start_next();
    return G_SOURCE_REMOVE;
  }

  void start_next() {
    if (busy || retry_source || stopping) return;
    std::string body;
    {
      std::lock_guard lock(mutex);
      if (queue.empty()) return;
      body = queue.front();
    }
    SoupMessage* msg = soup_message_new("POST", options.url.c_str());
    if (!msg) {
      log->error("webhook: '{}' is not a URL libsoup accepts", text::redact_secrets(options.url));
      finish(false);
      return;
    }
    busy = true;
    soup_message_add_flags(msg, SOUP_MESSAGE_NO_REDIRECT);
    GBytes* bytes = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
    g_bytes_unref(bytes);
    // Each attempt has its own time: a receiver refusing old timestamps still takes a late retry.
    const int64_t sent_at_s = now_epoch_ms() / 1000;
    SoupMessageHeaders* headers = soup_message_get_request_headers(msg);
    soup_message_headers_replace(headers, "X-Relay-Timestamp", std::to_string(sent_at_s).c_str());
    if (!options.secret.empty())
      soup_message_headers_replace(headers, "X-Relay-Signature",
                                   webhook_signature(options.secret, sent_at_s, body).c_str());
    soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, cancellable, &Impl::on_sent, this);
    g_object_unref(msg);  // the session holds its own reference while sending
  }

  static void on_sent(GObject* source, GAsyncResult* result, gpointer data) {
    auto* self = static_cast<Impl*>(data);
    GError* error = nullptr;
    SoupMessage* msg = soup_session_get_async_result_message(SOUP_SESSION(source), result);
    guint status = msg ? soup_message_get_status(msg) : 0;
    GBytes* reply = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
    if (reply) g_bytes_unref(reply);
    self->busy = false;
    if (error) {
      const bool cancelled = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      if (!cancelled) self->log->warn("webhook {}: {}", self->url_for_log(), error->message);
      g_error_free(error);
      if (cancelled) return;
      self->finish(false);
      return;
    }
    if (status >= 300 && status < 400) {
      self->log->warn("webhook {}: answered {}, a redirect, which is not followed", self->url_for_log(), status);
    } else if (status < 200 || status >= 300) {
      self->log->warn("webhook {}: answered {}", self->url_for_log(), status);
    }
    self->finish(status >= 200 && status < 300);
  }

  void finish(bool delivered) {
    if (delivered || attempt >= options.retries) {
      std::lock_guard lock(mutex);
      if (!queue.empty()) queue.pop_front();
      (delivered ? counters.delivered : counters.abandoned)++;
      if (!delivered) log->error("webhook {}: giving up after {} attempts", url_for_log(), attempt + 1);
      attempt = 0;
    } else {
      std::lock_guard lock(mutex);
      ++counters.retried;
      const double wait_s = std::min(60.0, options.first_backoff_s * std::pow(2.0, attempt));
      ++attempt;
      retry_source = g_timeout_source_new(static_cast<guint>(wait_s * 1000));
      g_source_set_callback(retry_source, &Impl::on_retry, this, nullptr);
      g_source_attach(retry_source, context);
      return;
    }
    start_next();
  }

  static gboolean on_retry(gpointer data) {
    auto* self = static_cast<Impl*>(data);
    g_source_unref(self->retry_source);
    self->retry_source = nullptr;
    self->start_next();
    return G_SOURCE_REMOVE;
  }

  // The URL without its query, which may carry a key.
  std::string url_for_log() const { return text::redact_secrets(options.url); }

  WebhookOptions options;
  std::shared_ptr<spdlog::logger> log;
  GMainContext* context = g_main_context_new();
  GMainLoop* loop = g_main_loop_new(context, FALSE);
  GCancellable* cancellable = g_cancellable_new();
  SoupSession* session = nullptr;
  GSource* retry_source = nullptr;
  bool busy = false;
  bool stopping = false;
  int attempt = 0;  // failed attempts of the body at the front

  mutable std::mutex mutex;
  std::deque<std::string> queue;  // the front is being delivered
  WebhookCounters counters;
  std::thread thread;
};

WebhookSender::WebhookSender(WebhookOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  GUri* uri = g_uri_parse(impl_->options.url.c_str(), static_cast<GUriFlags>(SOUP_HTTP_URI_FLAGS), nullptr);
  if (!uri) throw std::runtime_error(fmt::format("webhook url '{}' is not a valid URL", impl_->url_for_log()));
  const bool insecure = g_strcmp0(g_uri_get_scheme(uri), "http") == 0;
  g_uri_unref(uri);
  if (insecure && !impl_->options.allow_insecure)
    throw std::runtime_error("webhook url is http://: alerts would travel unencrypted (health.allow_insecure_webhooks)");
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

WebhookSender::~WebhookSender() {
  Impl& s = *impl_;
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

void WebhookSender::send(std::string body) {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.mutex);
    // The front may be in flight; drop the oldest one behind it.
    if (s.queue.size() >= std::max<size_t>(2, s.options.queue_limit)) {
      s.queue.erase(s.queue.begin() + 1);
      ++s.counters.dropped;
    }
    s.queue.push_back(std::move(body));
  }
  g_main_context_invoke(s.context, &Impl::kick, &s);
}

WebhookCounters WebhookSender::counters() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counters;
}

}  // namespace relay::outbound
