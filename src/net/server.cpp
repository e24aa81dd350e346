#include "net/server.hpp"

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
#include "net/body_files.hpp"
#include "net/client_address.hpp"
#include "net/connection_limiter.hpp"
#include "net/connection_registry.hpp"
#include "net/fast_path.hpp"
#include "net/handler.hpp"
#include "net/listener.hpp"
#include "net/live_limits.hpp"
#include "net/session_context.hpp"
#include "net/tls_context.hpp"

namespace relay::net {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

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
  auto address = asio::ip::make_address(host, address_ec);
  if (address_ec) throw invalid(fmt::format("'{}' is not an IP address (use e.g. 0.0.0.0, 127.0.0.1 or [::])", host));
  return {address, port};
}

tcp::acceptor open_acceptor(asio::io_context& ioc, const std::string& listen) {
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
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  check(ec);
  acceptor.bind(endpoint, ec);
  check(ec);
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  check(ec);
  return acceptor;
}

}  // namespace

struct Server::Impl {
  Impl(const config::EdgeConfig& edge, const Handler& handler, Waiters& waiters, StatsCounters& stats,
       size_t feed_queue_limit)
      : edge(edge),
        limits(edge),
        connections(limits),
        stats(stats),
        waiters(waiters),
        proxies(edge.trusted_proxies, edge.forwarded_header == "forwarded" ? ForwardedHeader::forwarded
                                                                             : ForwardedHeader::x_forwarded_for),
        session_context{handler, waiters, registry, stats, limits, connections, &body_files, feed_queue_limit,
                        &proxies} {}

  config::EdgeConfig edge;
  // Everything a session refers to is declared before io_context, so it is still
  // alive when the io_context destroys any handler (and session) it still holds.
  LiveLimits limits;
  ConnectionLimiter connections;
  ConnectionRegistry registry;
  StatsCounters& stats;
  Waiters& waiters;
  // Segments as files for sendfile on the plain port; 256 MiB covers the live
  // window of a full ladder many times over.
  BodyFiles body_files{256 * 1024 * 1024};
  TrustedProxies proxies;
  SessionContext session_context;
  std::unique_ptr<TlsContexts> tls;  // the HTTPS port's certificate and settings
  // One io_context per worker thread, each run by that thread alone: a session
  // lives on one of them, so its handlers never contend for Asio's locks and its
  // executor is a strand without a strand's cost. The listeners, the timers
  // below and everything else not tied to a connection live on the first.
  std::vector<std::unique_ptr<asio::io_context>> workers;
  // Keep a worker's run() going while it has no connection yet; released by stop().
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> worker_guards;
  std::shared_ptr<Listener> listener;
  std::shared_ptr<Listener> tls_listener;
  uint16_t tls_port = 0;
  std::vector<std::thread> threads;
  uint16_t port = 0;

  std::mutex lifecycle_mutex;
  enum class State { idle, running, draining, stopped } state = State::idle;
};

Server::Server(const config::EdgeConfig& edge, const Handler& handler, Waiters& waiters, StatsCounters& stats,
               size_t feed_queue_limit)
    : impl_(std::make_unique<Impl>(edge, handler, waiters, stats, feed_queue_limit)) {}

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle_mutex);
  if (s.state != Impl::State::idle) throw std::runtime_error("edge server: start() called twice");
  const config::EdgeConfig& edge = s.edge;
  auto log = relay::log::get("edge");

  const int threads = edge.threads < 1 ? 1 : edge.threads;
  std::vector<std::unique_ptr<asio::io_context>> workers;
  std::vector<asio::any_io_executor> executors;
  for (int i = 0; i < threads; ++i) {
    workers.push_back(std::make_unique<asio::io_context>(1));
    executors.push_back(workers.back()->get_executor());
  }
  asio::io_context& ioc = *workers.front();
  tcp::acceptor acceptor = open_acceptor(ioc, edge.listen);
  s.port = acceptor.local_endpoint().port();
  std::optional<tcp::acceptor> tls_acceptor;
  if (!edge.tls_listen.empty()) {
    s.tls = std::make_unique<TlsContexts>(edge.tls_cert_file, edge.tls_key_file, /*offer_h2=*/true);
    tls_acceptor.emplace(open_acceptor(ioc, edge.tls_listen));
    s.tls_port = tls_acceptor->local_endpoint().port();
  }

  s.workers = std::move(workers);
  for (auto& worker : s.workers) s.worker_guards.push_back(asio::make_work_guard(*worker));
  s.listener = std::make_shared<Listener>(executors, std::move(acceptor), s.session_context);
  s.listener->run();
  if (tls_acceptor) {
    s.tls_listener = std::make_shared<Listener>(executors, std::move(*tls_acceptor), s.session_context, s.tls.get());
    s.tls_listener->run();
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
  if (s.tls_listener)
    log->info("TLS listening on {} (port {}), certificate {}", edge.tls_listen, s.tls_port,
              describe_certificate(*s.tls->current()));
  if (!fast_path::enabled()) log->info("fast path off (SEMINAR_RELAY_FAST_PATH=0), see docs/performance.md");
}

uint16_t Server::port() const { return impl_->port; }
uint16_t Server::tls_port() const { return impl_->tls_port; }

void Server::reload(const config::EdgeConfig& edge) {
  Impl& s = *impl_;
  auto log = relay::log::get("edge");
  s.limits.set(edge);
  log->info(
      "limits reloaded: header {} s, idle {} s, read {} s, header {} B, body {} B, {} connections ({} per address)",
      edge.header_timeout_s, edge.idle_timeout_s, edge.read_timeout_s, edge.max_header_bytes, edge.max_body_bytes,
      edge.max_connections, edge.max_connections_per_ip);
  // The certificate and key are read again: an ACME client renews them in place
  // (or a changed path names new ones). New connections get them; open ones keep theirs.
  std::lock_guard lock(s.lifecycle_mutex);
  if (!s.tls || edge.tls_listen.empty()) return;
  try {
    log->info("TLS certificate reloaded: {}", s.tls->reload(edge.tls_cert_file, edge.tls_key_file));
  } catch (const std::exception& e) {
    log->error("TLS certificate not reloaded, still serving the previous one: {}", e.what());
  }
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
  s.waiters.close();
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
  s.waiters.close();
  s.registry.close_all();
  s.worker_guards.clear();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.state = Impl::State::stopped;
  relay::log::get("edge")->info("stopped");
}

Stats Server::stats() const { return impl_->stats.snapshot(); }

}  // namespace relay::net
