#pragma once
// The HTTP edge: serves the live HLS media from the store, the pages, /api/health
// and, given a qa::Service, the Q&A API and its WebSocket. Boost stays behind the
// pointer so the app need not compile Beast.
#include <cstdint>
#include <memory>

#include "config/config.hpp"
#include "edge/router_options.hpp"
#include "edge/stats.hpp"
#include "health/ingest_status.hpp"
#include "hls/store.hpp"

namespace relay::qa {
class Service;
}
namespace relay::health {
class Monitor;
}

namespace relay::edge {

class Server {
 public:
  // The store and ingest status must outlive the server; the config is copied.
  // Publishes to the store wake the requests held for them (blocking playlist reloads).
  // The Q&A service, if any, must outlive the server too. So must the health
  // monitor, which the server feeds samples from its health timer.
  Server(const config::Config& cfg, hls::Store& store, health::IngestStatus& ingest, RouterOptions options = {},
         qa::Service* qa = nullptr, health::Monitor* monitor = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds edge.listen and starts edge.threads worker threads. Throws
  // std::runtime_error with one line, e.g. "cannot listen on 0.0.0.0:8080: Address already in use".
  void start();
  // The bound port (edge.listen may ask for port 0); 0 before start().
  uint16_t port() const;
  // The bound HTTPS port (edge.tls_listen); 0 without TLS or before start().
  uint16_t tls_port() const;
  // The graceful first half of a shutdown: stops accepting, answers held
  // requests, lets responses in flight finish, closes idle connections, says
  // "going away" (1001) on the Q&A WebSockets, and waits up to
  // edge.shutdown_grace_s for the connections to end. stop() must follow.
  // Must not be called from an edge worker thread.
  void drain();
  // Applies the edge limits that can change while serving (timeouts, caps,
  // header and body limits); the rest of `edge` is ignored. Any thread.
  void reload(const config::EdgeConfig& edge);
  // Stops accepting, answers no held request any more, closes every connection,
  // joins the threads. Idempotent.
  // Must not be called from an edge worker thread (it joins them).
  void stop();

  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relay::edge
