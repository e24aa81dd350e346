#pragma once
// The technician's HTTP side of stream health: /metrics (Prometheus text),
// /api/incidents (the incident log) and /api/tech/stream (the dashboard's
// events, one a second) with a technician token when technicians are
// configured, and POST /api/qoe (players' reports). No sockets: the session
// hands it a complete request and sends what it returns, or, for an accepted
// stream request, hands the socket to an SseSession fed by stream_event().
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <optional>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "config/config.hpp"
#include "edge/router.hpp"
#include "edge/stats.hpp"
#include "health/ingest_status.hpp"
#include "health/monitor.hpp"
#include "health/qoe.hpp"
#include "hls/store.hpp"

namespace relay::edge {

using FullRequest = boost::beast::http::request<boost::beast::http::string_body>;

class HealthApi {
 public:
  // Everything referenced must outlive the api; `monitor` may be null (no alerts).
  HealthApi(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
            const StatsCounters& stats, const health::Monitor* monitor, health::QoeAggregator& qoe);

  static bool handles(std::string_view target);
  static bool is_stream(const FullRequest& req);
  // For a GET of the stream: nullopt when it may start, else the refusal.
  std::optional<Response> check_stream(const FullRequest& req) const;
  // One dashboard event: ingest, input, renditions, viewers, sound, alerts,
  // incidents, pending questions; the first of a stream also carries the chart history.
  std::string stream_event(bool with_history = false) const;
  // Keeps the charted figures of this second for the dashboards that open later
  // (the last 15 minutes). The server's health timer calls it once a second.
  void record_history();
  // `client` is the peer's address, for the QoE rate limit.
  Response handle(const FullRequest& req, const std::string& client) const;

 private:
  Response dispatch(const FullRequest& req, std::string_view path, std::string_view query,
                    const std::string& client) const;
  Response metrics() const;
  Response incidents(const FullRequest& req, std::string_view query) const;
  Response qoe(const FullRequest& req, const std::string& client) const;
  bool is_technician(const FullRequest& req, std::string_view query) const;
  std::optional<Response> refuse_unless_technician(const FullRequest& req, std::string_view query) const;

  const config::Config& cfg_;
  const hls::Store& store_;
  const health::IngestStatus& ingest_;
  const StatsCounters& stats_;
  const health::Monitor* monitor_;
  health::QoeAggregator& qoe_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  mutable std::mutex history_mutex_;
  std::deque<std::string> history_;  // JSON points, oldest first
};

}  // namespace relay::edge
