#pragma once
// The edge as the app wires it, for tests that talk HTTP to it: the delivery
// router behind the route table, served by the net::Server (no Q&A, no health API).
#include <memory>

#include "api/route_table.hpp"
#include "config/config.hpp"
#include "delivery/publish_waiters.hpp"
#include "delivery/router.hpp"
#include "delivery/static_files.hpp"
#include "health/ingest_status.hpp"
#include "hls/store.hpp"
#include "net/server.hpp"
#include "net/stats.hpp"

namespace relay::test {

class TestEdge {
 public:
  TestEdge(const config::Config& cfg, hls::Store& store, health::IngestStatus& ingest,
           delivery::RouterOptions options = {})
      : files_(delivery::StaticFiles::load(cfg.edge.web_dir, cfg.edge.node_modules_dir)),
        router_(cfg, store, ingest, files_, options),
        waiters_(store),
        routes_(cfg.edge, router_, nullptr, nullptr),
        server_(cfg.edge, routes_, waiters_, stats_) {}

  void start() { server_.start(); }
  uint16_t port() const { return server_.port(); }
  uint16_t tls_port() const { return server_.tls_port(); }
  void drain() { server_.drain(); }
  void stop() { server_.stop(); }
  void reload(const config::EdgeConfig& edge) { server_.reload(edge); }
  net::Stats stats() const { return server_.stats(); }

 private:
  delivery::StaticFiles files_;
  delivery::Router router_;
  delivery::PublishWaiters waiters_;
  api::RouteTable routes_;
  net::StatsCounters stats_;
  net::Server server_;
};

}  // namespace relay::test
