#include "edge/server.hpp"

#include <charconv>
#include <chrono>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "edge/body_files.hpp"
#include "edge/connection_limiter.hpp"
#include "edge/connection_registry.hpp"
#include "edge/health_api.hpp"
#include "edge/health_sampler.hpp"
#include "edge/http_session.hpp"
#include "edge/listener.hpp"
#include "edge/live_limits.hpp"
#include "edge/publish_waiters.hpp"
#include "edge/qa_api.hpp"
#include "edge/router.hpp"
#include "edge/sse_session.hpp"
#include "edge/static_files.hpp"
#include "edge/tls_context.hpp"
#include "edge/websocket_session.hpp"
#include "health/monitor.hpp"
#include "health/qoe.hpp"
#include "qa/service.hpp"

namespace relay::edge {
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// "host:port" or "[v6]:port", host an IP literal or "localhost".
tcp::endpoint parse_listen(const std::string& listen) {
  auto invalid = [&](std::string_view why) {
    return std::runtime_error(fmt::format("cannot listen on {}: {}", listen, why));
  };
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) throw invalid("expected host:port, e.g. 0.0.0.0:8080 or [::]:8080");
  std::string host = listen.substr(0, colon);
  std::string_view port_text = std::string_view(listen).substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";

  uint16_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size())
    throw invalid("port must be a number from 0 to 65535");

  boost::system::error_code address_ec;
  auto address = net::ip::make_address(host, address_ec);
  if (address_ec) throw invalid(fmt::format("'{}' is not an IP address (use e.g. 0.0.0.0, 127.0.0.1 or [::])", host));
  return {address, port};
}

tcp::acceptor open_acceptor(net::io_context& ioc, const std::string& listen) {
  tcp::endpoint endpoint = parse_listen(listen);
  tcp::acceptor acceptor(ioc);
  auto check = [&](boost::system::error_code ec) {
    if (ec) throw std::runtime_error(fmt::format("cannot listen on {}: {}", listen, ec.message()));
  };
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  check(ec);
  // Lets a restarted relay bind while old connections sit in TIME_WAIT; on Linux it
  // does not let two listeners share the port.
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  check(ec);
  acceptor.bind(endpoint, ec);
  check(ec);
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  check(ec);
  return acceptor;
}

}  // namespace

struct Server::Impl {
  Impl(const config::Config& cfg, hls::Store& store, health::IngestStatus& ingest, RouterOptions options,
       qa::Service* qa, health::Monitor* monitor)
      : cfg(cfg),
        store(store),
        ingest(ingest),
        options(options),
        qa(qa),
        monitor(monitor),
        limits(cfg.edge),
        connections(limits) {}

  // Samples the stream for the alert rules; runs on the first worker.
  void schedule_health_sample() {
    health_timer->expires_after(kHealthSampleInterval);
    health_timer->async_wait([this](boost::system::error_code ec) {
      if (ec || health_timer_stopped) return;
      monitor->observe(sampler->sample(now_epoch_ms()));
      if (++health_ticks % 4 == 0) health_api->record_history();
      schedule_health_sample();
    });
  }
  static constexpr std::chrono::milliseconds kHealthSampleInterval{250};

  // Vote counts go out in bundles (qa.vote_interval_ms); runs on the first worker.
  void schedule_vote_flush() {
    vote_timer->expires_after(std::chrono::milliseconds(cfg.qa.vote_interval_ms));
    vote_timer->async_wait([this](boost::system::error_code ec) {
      if (ec || vote_timer_stopped) return;
      qa->flush_votes();
      schedule_vote_flush();
    });
  }

  config::Config cfg;
  hls::Store& store;
  health::IngestStatus& ingest;
  RouterOptions options;
  qa::Service* qa;
  health::Monitor* monitor;
  // Everything a session refers to is declared before io_context, so it is still
  // alive when the io_context destroys any handler (and session) it still holds.
  StaticFiles static_files;
  LiveLimits limits;
  ConnectionLimiter connections;
  std::unique_ptr<Router> router;
  ConnectionRegistry registry;
  std::unique_ptr<PublishWaiters> waiters;
  StatsCounters stats;
  std::unique_ptr<QaApi> qa_api;
  health::QoeAggregator qoe;
  std::unique_ptr<HealthApi> health_api;
  std::unique_ptr<SseContext> sse_context;
  std::unique_ptr<HealthSampler> sampler;
  std::unique_ptr<WebsocketContext> websocket_context;
  std::unique_ptr<SessionContext> session_context;
  // Segments as files for sendfile on the plain port; 256 MiB covers the live
  // window of a full ladder many times over.
  BodyFiles body_files{256 * 1024 * 1024};
  std::unique_ptr<net::ssl::context> tls;  // the HTTPS port's certificate and settings
  // One io_context per worker thread, each run by that thread alone: a session
  // lives on one of them, so its handlers never contend for Asio's locks and its
  // executor is a strand without a strand's cost. The listeners, the timers
  // below and everything else not tied to a connection live on the first.
  std::vector<std::unique_ptr<net::io_context>> workers;
  // Keep a worker's run() going while it has no connection yet; released by stop().
  std::vector<net::executor_work_guard<net::io_context::executor_type>> worker_guards;
  std::shared_ptr<Listener> listener;
  std::shared_ptr<Listener> tls_listener;
  uint16_t tls_port = 0;
  std::vector<std::thread> threads;
  std::unique_ptr<net::steady_timer> vote_timer;
  bool vote_timer_stopped = false;  // touched only on the first worker
  std::unique_ptr<net::steady_timer> health_timer;
  bool health_timer_stopped = false;  // touched only on the first worker
  uint64_t health_ticks = 0;           // the same
  uint16_t port = 0;

  std::mutex lifecycle_mutex;
  enum class State { idle, running, draining, stopped } state = State::idle;
};

Server::Server(const config::Config& cfg, hls::Store& store, health::IngestStatus& ingest, RouterOptions options,
               qa::Service* qa, health::Monitor* monitor)
    : impl_(std::make_unique<Impl>(cfg, store, ingest, options, qa, monitor)) {}

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle_mutex);
  if (s.state != Impl::State::idle) throw std::runtime_error("edge server: start() called twice");
  const config::EdgeConfig& edge = s.cfg.edge;
  auto log = relay::log::get("edge");

  const int threads = edge.threads < 1 ? 1 : edge.threads;
  std::vector<std::unique_ptr<net::io_context>> workers;
  std::vector<net::any_io_executor> executors;
  for (int i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<net::io_context>(1));
    executors.push_back(workers.back()->get_executor());
  }
  net::io_context& ioc = *workers.front();
  tcp::acceptor acceptor = open_acceptor(ioc, edge.listen);
  s.port = acceptor.local_endpoint().port();
  std::optional<tcp::acceptor> tls_acceptor;
  if (!edge.tls_listen.empty()) {
    s.tls = make_tls_context(edge.tls_cert_file, edge.tls_key_file, /*offer_h2=*/true);
    tls_acceptor.emplace(open_acceptor(ioc, edge.tls_listen));
    s.tls_port = tls_acceptor->local_endpoint().port();
  }

  s.static_files = StaticFiles::load(edge.web_dir, edge.node_modules_dir);
  s.router = std::make_unique<Router>(s.cfg, s.store, s.ingest, s.static_files, s.options, s.monitor);
  s.waiters = std::make_unique<PublishWaiters>(s.store);
  s.session_context = std::make_unique<SessionContext>(SessionContext{
      *s.router,
      s.registry,
      *s.waiters,
      s.stats,
      std::chrono::milliseconds(static_cast<int64_t>(edge.read_timeout_s * 1000)),
      static_cast<uint32_t>(edge.max_header_bytes),
      static_cast<uint64_t>(edge.max_body_bytes),
  });
  s.session_context->limits = &s.limits;
  s.session_context->connections = &s.connections;
  s.session_context->body_files = &s.body_files;
  if (s.qa) {
    s.qa_api = std::make_unique<QaApi>(*s.qa);
    s.websocket_context = std::make_unique<WebsocketContext>(
        WebsocketContext{*s.qa, s.registry, s.stats, static_cast<size_t>(s.cfg.qa.ws_queue_limit)});
    s.session_context->qa_api = s.qa_api.get();
    s.session_context->websocket = s.websocket_context.get();
  }
  s.health_api = std::make_unique<HealthApi>(s.cfg, s.store, s.ingest, s.stats, s.monitor, s.qoe);
  s.session_context->health_api = s.health_api.get();
  s.sse_context = std::make_unique<SseContext>(
      SseContext{s.registry, [api = s.health_api.get()](bool first) { return api->stream_event(first); }});
  s.session_context->sse = s.sse_context.get();
  s.workers = std::move(workers);
  for (auto& worker : s.workers) s.worker_guards.push_back(net::make_work_guard(*worker));
  s.listener = std::make_shared<Listener>(executors, std::move(acceptor), *s.session_context);
  s.listener->run();
  if (tls_acceptor) {
    s.tls_listener = std::make_shared<Listener>(executors, std::move(*tls_acceptor), *s.session_context, s.tls.get());
    s.tls_listener->run();
  }
  if (s.qa) {
    s.vote_timer = std::make_unique<net::steady_timer>(ioc);
    s.schedule_vote_flush();
  }
  if (s.monitor) {
    s.sampler = std::make_unique<HealthSampler>(s.store, s.ingest, s.cfg.health.realtime_window_s, &s.qoe);
    s.health_timer = std::make_unique<net::steady_timer>(ioc);
    s.schedule_health_sample();
  }

  s.threads.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    s.threads.emplace_back([&worker = *s.workers[i], log] {
      // A handler that throws must not take the whole process down with std::terminate.
      for (;;) {
        try {
          worker.run();
          return;
        } catch (const std::exception& e) {
          log->error("edge worker: {}", e.what());
        }
      }
    });
  }
  s.state = Impl::State::running;
  log->info("listening on {} (port {}), {} worker threads", edge.listen, s.port, threads);
  if (s.tls_listener) log->info("TLS listening on {} (port {})", edge.tls_listen, s.tls_port);
}

uint16_t Server::port() const { return impl_->port; }
uint16_t Server::tls_port() const { return impl_->tls_port; }

void Server::reload(const config::EdgeConfig& edge) {
  impl_->limits.set(edge);
  relay::log::get("edge")->info(
      "limits reloaded: header {} s, idle {} s, read {} s, header {} B, body {} B, {} connections ({} per address)",
      edge.header_timeout_s, edge.idle_timeout_s, edge.read_timeout_s, edge.max_header_bytes, edge.max_body_bytes,
      edge.max_connections, edge.max_connections_per_ip);
}

void Server::drain() {
  Impl& s = *impl_;
  std::unique_lock lock(s.lifecycle_mutex);
  if (s.state != Impl::State::running) return;
  s.state = Impl::State::draining;
  auto log = relay::log::get("edge");
  s.listener->stop();
  if (s.tls_listener) s.tls_listener->stop();
  // Held requests are answered by their sessions' drain(); after this a request
  // that would be held is answered at once.
  s.registry.drain_all();
  s.waiters->close();
  const auto grace = s.limits.shutdown_grace();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  size_t open = s.registry.size();
  log->info("draining {} connections for up to {} ms", open, grace.count());
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    lock.lock();
    open = s.registry.size();
  }
  if (open > 0) log->info("{} connections still open after the grace time; closing them", open);
}

void Server::stop() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle_mutex);
  if (s.state != Impl::State::running && s.state != Impl::State::draining) {
    s.state = Impl::State::stopped;
    return;
  }
  // Once the acceptor and every socket are closed, and the guards released,
  // nothing is left to wait for, so each worker's run() returns on its own and no
  // handler is abandoned mid-way.
  s.listener->stop();
  if (s.tls_listener) s.tls_listener->stop();
  // No wake is posted after this, and a request that would be held is answered at once.
  s.waiters->close();
  s.registry.close_all();
  if (s.vote_timer) {
    net::post(s.vote_timer->get_executor(), [&s] {
      s.vote_timer_stopped = true;
      s.vote_timer->cancel();
    });
  }
  if (s.health_timer) {
    net::post(s.health_timer->get_executor(), [&s] {
      s.health_timer_stopped = true;
      s.health_timer->cancel();
    });
  }
  s.worker_guards.clear();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.state = Impl::State::stopped;
  relay::log::get("edge")->info("stopped");
}

Stats Server::stats() const { return impl_->stats.snapshot(); }

}  // namespace relay::edge
