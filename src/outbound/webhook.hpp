#pragma once
// Sends alert webhooks: each body is POSTed as JSON to one URL, signed with
// HMAC-SHA256 over a timestamp and the body (so a receiver can refuse replays),
// in order, retried with doubling backoff. Redirects are not followed: a 3xx is
// a failed attempt, so a compromised or mistyped receiver cannot send alerts and
// their signature on to an address nobody configured. libsoup runs on a thread
// of its own with its own GLib main context, so neither the ingest's GLib loop
// nor an edge thread ever waits for a slow or dead receiver.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "health/alerts.hpp"

// The relay module's namespace; "relay::relay" would hide the top-level namespace.
namespace relay::outbound {

struct WebhookOptions {
  std::string url;
  std::string secret;         // "" = no X-Relay-Signature header
  bool allow_insecure = false; // http:// URLs; otherwise https:// only
  int retries = 5;            // attempts after the first
  double timeout_s = 10;      // per attempt
  double first_backoff_s = 1; // then 2, 4, … up to 60
  size_t queue_limit = 256;   // bodies waiting; beyond it the oldest is dropped
};

struct WebhookCounters {
  uint64_t delivered = 0;
  uint64_t retried = 0;   // failed attempts that were tried again
  uint64_t abandoned = 0; // bodies given up after the last retry
  uint64_t dropped = 0;   // bodies dropped from a full queue
};

class WebhookSender {
 public:
  // Starts the sender's thread. Throws std::runtime_error when the URL is not one
  // libsoup accepts, or is http:// without allow_insecure.
  explicit WebhookSender(WebhookOptions options);
  // Stops the thread; bodies not yet delivered are dropped.
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Any thread; returns at once.
  void send(std::string body);
  WebhookCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Lower-case hex HMAC-SHA256 of `data` keyed with `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// The X-Relay-Signature value for a body sent at `unix_seconds` (the
// X-Relay-Timestamp header): "sha256=" and the hex HMAC-SHA256 of
// "<unix_seconds>.<body>".
std::string webhook_signature(std::string_view secret, int64_t unix_seconds, std::string_view body);

// The JSON body for an alert: {"event": "firing"|"resolved", "rule", "incident",
// "message", "fired_at", "resolved_at", "source"}.
std::string alert_payload(const health::AlertEvent& event, uint64_t incident_id, const std::string& source);

}  // namespace relay::outbound
