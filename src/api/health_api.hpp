#pragma once
// The technician's HTTP side of stream health: /metrics (Prometheus text),
// /api/incidents (the incident log), /api/tech/thumbnail.jpg and
// /api/tech/stream (the dashboard's events, one a second, as an event stream),
// each with a technician token on the public port (auth::Authority decides;
// without technician tokens they are closed) or without one on the operator's
// private port (health.listen); and POST /api/qoe (players' reports). No
// sockets: it answers a request, or upgrades it to an event stream whose grant
// a reload that withdraws the token ends.
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <optional>
#include <string_view>

#include "auth/authority.hpp"
#include "common/bytes.hpp"
#include "config/config.hpp"
#include "net/handler.hpp"
#include "net/stats.hpp"
#include "health/ingest_status.hpp"
#include "health/monitor.hpp"
#include "health/qoe.hpp"
#include "health/qa_status.hpp"
#include "health/recording_status.hpp"
#include "health/uplink_status.hpp"
#include "hls/store.hpp"

namespace relay::api {

using net::Response;

// Which listener a request came in on: the public edge (edge.listen,
// edge.tls_listen) or the operator's private port (health.listen), where the
// technician's surfaces need no token.
enum class Port { edge, operator_port };

class HealthApi {
 public:
  // Everything referenced must outlive the api; `monitor` may be null (no alerts).
  HealthApi(const config::Config& cfg, const hls::Store& store, const health::IngestStatus& ingest,
            const net::StatsCounters& stats, const health::Monitor* monitor, health::QoeAggregator& qoe,
            auth::Authority& authority);

  // A request on one of its routes: the answer, or an event stream for a GET of /api/tech/stream.
  net::Outcome handle(const net::Exchange& exchange, Port port = Port::edge) const;
  // Whether this request on the public port may see the technician's detail of /api/health.
  bool allows_detail(const net::Exchange& exchange) const;
  // One dashboard event: ingest, input, renditions, viewers, sound, alerts,
  // incidents, pending questions; the first of a stream also carries the chart history.
  std::string stream_event(bool with_history = false) const;
  // The dashboard event every open stream sends now: built once a second (by
  // record_history(), or here when that has not run for two seconds) and the
  // same bytes for every subscriber, however many technicians watch.
  Bytes shared_event(bool with_history) const;
  // Builds this second's event for the open streams and keeps its charted
  // figures for the dashboards that open later (the last 15 minutes). The
  // server's health timer calls it once a second.
  void record_history();
  // Events built since start (by record_history() or shared_event()).
  uint64_t events_built() const;
  // Where /metrics reads the hall uplink's state; unset: no uplink. Set before the server starts.
  void set_uplink_status(std::function<health::UplinkStatus()> source) { uplink_status_ = std::move(source); }
  // The recorder's figures for /metrics; before the server starts.
  void set_recording_status(std::function<health::RecordingStatus()> source) { recording_status_ = std::move(source); }
  // Where /metrics reads the Q&A database's connection. Set before the server starts.
  void set_qa_status(std::function<health::QaDatabaseStatus()> source) { qa_status_ = std::move(source); }

 private:
  net::Outcome dispatch(const net::Exchange& exchange, Port port) const;
  net::Outcome open_stream(std::string_view token, Port port) const;
  Response metrics() const;
  Response incidents() const;
  Response qoe(const net::Request& req, std::string_view client) const;
  // The token a request carries (Authorization: Bearer; never the query).
  static std::string token_of(const net::Exchange& exchange);
  std::optional<Response> refuse_unless_technician(std::string_view token, Port port) const;

  const config::Config& cfg_;
  const hls::Store& store_;
  const health::IngestStatus& ingest_;
  const net::StatsCounters& stats_;
  auth::Authority& authority_;
  const health::Monitor* monitor_;
  health::QoeAggregator& qoe_;
  std::function<health::UplinkStatus()> uplink_status_;
  std::function<health::RecordingStatus()> recording_status_;
  std::function<health::QaDatabaseStatus()> qa_status_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  // Builds the event and, under shared_mutex_, makes it the current one.
  Bytes build_shared_event() const;
  // With shared_mutex_ held: `event` is the one every stream sends until the next.
  void share_locked(Bytes event) const;
  // The kept chart points as a JSON array.
  std::string history_json() const;

  mutable std::mutex history_mutex_;
  std::deque<std::string> history_;  // JSON points, oldest first
  // The current event, with and without the history (the latter made on the
  // first stream opened after each build); guarded by shared_mutex_.
  mutable std::mutex shared_mutex_;
  mutable Bytes shared_event_, shared_event_with_history_;
  mutable int64_t shared_built_ms_ = 0;  // monotonic
  mutable uint64_t events_built_ = 0;
};

}  // namespace relay::api
