#pragma once
// The relay, wired: the media store and the ingest that fills it, the Q&A, the
// one authority for tokens, health, the route table that composes the APIs, the
// HTTP transport, and the app's timers. Construction and start-up are the setup
// steps main() runs; each failure is one line for the operator.
#include <memory>
#include <string>

#include "config/config.hpp"

namespace relay::app {

class Relay {
 public:
  // Opens the Q&A database and prepares everything; listens on nothing yet.
  // Throws std::runtime_error (or a StoreError) with a message for the operator.
  explicit Relay(const config::Config& cfg);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Binds the edge, then starts the ingest and the timers. Throws std::runtime_error.
  void start();
  // A config reload (SIGHUP): edge limits, role tokens (open connections whose
  // token was withdrawn are closed), alert settings, log level.
  void reload(const config::Config& loaded);
  // In-flight responses finish (edge.shutdown_grace_s), then everything stops,
  // in the reverse order of start().
  void stop();

  uint16_t port() const;
  uint16_t tls_port() const;
  // The bound port of health.listen; 0 without it or before start().
  uint16_t operator_port() const;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace relay::app
