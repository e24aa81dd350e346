#pragma once
// The technician's HTTP side of stream health: /metrics (Prometheus text),
// /api/incidents (the incident log), /api/tech/thumbnail.jpg and
// /api/tech/stream (the dashboard's events, one a second, as an event stream)
// with a technician token when technicians are configured (auth::Authority
// decides, as it is now), and POST /api/qoe (players' reports). No sockets: it
// answers a request, or upgrades it to an event stream whose grant a reload
// that withdraws the token ends.
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <optional>
#include <string_view>

#include "auth/authority.hpp"
#include "config/config.hpp"
#include "net/handler.hpp"
#include "net/stats.hpp"
#include "health/ingest_status.hpp"
#include "health/monitor.hpp"
#include "health/qoe.hpp"
#include "hls/store.hpp"

namespace relay::api {

using net::Response;

class HealthApi {
 public:
  // Everything referenced must outlive the api; `monitor` may be null (no alerts).
  HealthApi(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
            const net::StatsCounters& stats, const health::Monitor* monitor, health::QoeAggregator& qoe,
            auth::Authority& authority);

  // A request on one of its routes: the answer, or an event stream for a GET of /api/tech/stream.
  net::Outcome handle(const net::Exchange& exchange) const;
  // One dashboard event: ingest, input, renditions, viewers, sound, alerts,
  // incidents, pending questions; the first of a stream also carries the chart history.
  std::string stream_event(bool with_history = false) const;
  // Keeps the charted figures of this second for the dashboards that open later
  // (the last 15 minutes). The server's health timer calls it once a second.
  void record_history();

 private:
  net::Outcome dispatch(const net::Exchange& exchange) const;
  net::Outcome open_stream(const net::Exchange& exchange, std::string_view token) const;
  Response metrics() const;
  Response incidents() const;
  Response qoe(const net::Request& req, std::string_view client) const;
  // The token a request carries (Authorization: Bearer; never the query).
  static std::string token_of(const net::Exchange& exchange);
  std::optional<Response> refuse_unless_technician(std::string_view token) const;

  const config::Config& cfg_;
  const hls::Store& store_;
  const health::IngestStatus& ingest_;
  const net::StatsCounters& stats_;
  auth::Authority& authority_;
  const health::Monitor* monitor_;
  health::QoeAggregator& qoe_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  mutable std::mutex history_mutex_;
  std::deque<std::string> history_;  // JSON points, oldest first
};

}  // namespace relay::api
