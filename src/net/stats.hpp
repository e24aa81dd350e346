#pragma once
// Request and byte counters for the whole edge. Plain relaxed atomics: they are
// bumped once per response on every worker thread and read rarely.
#include <array>
#include <atomic>
#include <cstdint>
#include <vector>


namespace relay::net {

struct StatusCount {
  unsigned status = 0;
  uint64_t requests = 0;
  uint64_t bytes_out = 0;  // headers included, as they went on the wire
};

// Route labels are the handler's (RouteInfo::label); the transport counts by index.
inline constexpr size_t kMaxRouteLabels = 16;

struct RouteStatusCount {
  uint8_t route = 0;
  unsigned status = 0;
  uint64_t requests = 0;
  uint64_t bytes_out = 0;
};

struct Stats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  // Connections answered 503 and closed by the listener: over edge.max_connections_per_ip,
  // and over edge.max_connections.
  uint64_t connections_refused_per_ip = 0;
  uint64_t connections_refused_total_cap = 0;
  uint64_t requests = 0;
  uint64_t bytes_out = 0;
  // Requests held open for a blocking playlist reload or a hinted part: a gauge,
  // and how many holds ended in a 503 because nothing arrived in time.
  uint64_t requests_held = 0;
  uint64_t holds_timed_out = 0;
  // Q&A WebSocket feeds: a gauge, messages sent, and feeds closed for not keeping up (4008).
  uint64_t feeds_open = 0;
  uint64_t feed_messages = 0;
  uint64_t feeds_too_slow = 0;
  // HTTP/2 streams reset because the client did not take the response (or an
  // event) within its send deadline: its flow-control window stayed shut.
  uint64_t h2_streams_stalled = 0;
  std::vector<StatusCount> by_status;  // only statuses that occurred, ascending
  std::vector<RouteStatusCount> by_route;  // only (route, status) pairs that occurred
};

class StatsCounters {
 public:
  void connection_opened();
  void connection_closed();
  void connection_refused(bool over_address_cap);
  void response_sent(unsigned status, uint64_t bytes);
  // The same, also counted under the kind of resource the request was for.
  void response_sent(uint8_t route, unsigned status, uint64_t bytes);
  void hold_started();
  void hold_ended();
  void hold_timed_out();
  void feed_opened();
  void feed_closed();
  void feed_message_sent(uint64_t events = 1);  // events, however many messages carried them
  void feed_too_slow();
  void h2_stream_stalled();

  Stats snapshot() const;

 private:
  static constexpr unsigned kMaxStatus = 600;

  std::atomic<uint64_t> connections_accepted_{0};
  std::atomic<uint64_t> connections_open_{0};
  std::atomic<uint64_t> connections_refused_per_ip_{0};
  std::atomic<uint64_t> connections_refused_total_cap_{0};
  std::atomic<uint64_t> requests_held_{0};
  std::atomic<uint64_t> holds_timed_out_{0};
  std::atomic<uint64_t> feeds_open_{0};
  std::atomic<uint64_t> feed_messages_{0};
  std::atomic<uint64_t> feeds_too_slow_{0};
  std::atomic<uint64_t> h2_streams_stalled_{0};
  std::array<std::atomic<uint64_t>, kMaxStatus> requests_by_status_{};
  std::array<std::atomic<uint64_t>, kMaxStatus> bytes_by_status_{};
  std::array<std::array<std::atomic<uint64_t>, kMaxStatus>, kMaxRouteLabels> requests_by_route_{};
  std::array<std::array<std::atomic<uint64_t>, kMaxStatus>, kMaxRouteLabels> bytes_by_route_{};
};

}  // namespace relay::net
