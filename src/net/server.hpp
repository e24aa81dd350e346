#pragma once
// The HTTP transport: listeners on edge.listen (and edge.tls_listen), worker
// threads, and the sessions that hand every request to one Handler. What is
// served is the handler's business (api::RouteTable). Boost stays behind the
// pointer so the app need not compile Beast.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "config/config.hpp"
#include "net/stats.hpp"

namespace relay::net {

class Handler;
class Waiters;

class Server {
 public:
  // The handler, the waiters and the counters must outlive the server; the
  // config is copied. `feed_queue_limit` bounds each WebSocket's queue.
  Server(const config::EdgeConfig& edge, const Handler& handler, Waiters& waiters, StatsCounters& stats,
         size_t feed_queue_limit = 256);
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
  // "going away" (1001) on the WebSockets, and waits up to
  // edge.shutdown_grace_s for the connections to end. stop() must follow.
  // Must not be called from an edge worker thread.
  void drain();
  // Applies the edge limits that can change while serving (timeouts, caps,
  // header and body limits) and reads the TLS certificate and key again (a bad
  // pair is logged and the running one stays); the rest of `edge` is ignored.
  // Any thread.
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

}  // namespace relay::net
