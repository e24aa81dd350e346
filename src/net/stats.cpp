#include "net/stats.hpp"

namespace relay::net {

void StatsCounters::connection_opened() {
  connections_accepted_.fetch_add(1, std::memory_order_relaxed);
  connections_open_.fetch_add(1, std::memory_order_relaxed);
}

void StatsCounters::connection_closed() { connections_open_.fetch_sub(1, std::memory_order_relaxed); }

void StatsCounters::connection_refused(bool over_address_cap) {
  (over_address_cap ? connections_refused_per_ip_ : connections_refused_total_cap_)
      .fetch_add(1, std::memory_order_relaxed);
}

void StatsCounters::response_sent(unsigned status, uint64_t bytes) {
  // Beast only produces 3-digit codes; anything else lands in slot 0 rather than out of bounds.
  unsigned slot = status < kMaxStatus ? status : 0;
  requests_by_status_[slot].fetch_add(1, std::memory_order_relaxed);
  bytes_by_status_[slot].fetch_add(bytes, std::memory_order_relaxed);
}

void StatsCounters::response_sent(uint8_t route, unsigned status, uint64_t bytes) {
  response_sent(status, bytes);
  unsigned slot = status < kMaxStatus ? status : 0;
  size_t r = route < kMaxRouteLabels ? route : 0;
  requests_by_route_[r][slot].fetch_add(1, std::memory_order_relaxed);
  bytes_by_route_[r][slot].fetch_add(bytes, std::memory_order_relaxed);
}

void StatsCounters::hold_started() { requests_held_.fetch_add(1, std::memory_order_relaxed); }

void StatsCounters::hold_ended() { requests_held_.fetch_sub(1, std::memory_order_relaxed); }

void StatsCounters::hold_timed_out() { holds_timed_out_.fetch_add(1, std::memory_order_relaxed); }

void StatsCounters::feed_opened() { feeds_open_.fetch_add(1, std::memory_order_relaxed); }

void StatsCounters::feed_closed() { feeds_open_.fetch_sub(1, std::memory_order_relaxed); }

void StatsCounters::feed_message_sent(uint64_t events) { feed_messages_.fetch_add(events, std::memory_order_relaxed); }

void StatsCounters::feed_too_slow() { feeds_too_slow_.fetch_add(1, std::memory_order_relaxed); }
void StatsCounters::h2_stream_stalled() { h2_streams_stalled_.fetch_add(1, std::memory_order_relaxed); }

Stats StatsCounters::snapshot() const {
  Stats s;
  s.connections_accepted = connections_accepted_.load(std::memory_order_relaxed);
  s.connections_open = connections_open_.load(std::memory_order_relaxed);
  s.connections_refused_per_ip = connections_refused_per_ip_.load(std::memory_order_relaxed);
  s.connections_refused_total_cap = connections_refused_total_cap_.load(std::memory_order_relaxed);
  s.requests_held = requests_held_.load(std::memory_order_relaxed);
  s.holds_timed_out = holds_timed_out_.load(std::memory_order_relaxed);
  s.feeds_open = feeds_open_.load(std::memory_order_relaxed);
  s.feed_messages = feed_messages_.load(std::memory_order_relaxed);
  s.feeds_too_slow = feeds_too_slow_.load(std::memory_order_relaxed);
  s.h2_streams_stalled = h2_streams_stalled_.load(std::memory_order_relaxed);
  for (unsigned status = 0; status < kMaxStatus; ++status) {
    uint64_t requests = requests_by_status_[status].load(std::memory_order_relaxed);
    if (requests == 0) continue;
    uint64_t bytes = bytes_by_status_[status].load(std::memory_order_relaxed);
    s.by_status.push_back({status, requests, bytes});
    s.requests += requests;
    s.bytes_out += bytes;
  }
  for (size_t route = 0; route < kMaxRouteLabels; ++route) {
    for (unsigned status = 0; status < kMaxStatus; ++status) {
      uint64_t requests = requests_by_route_[route][status].load(std::memory_order_relaxed);
      if (requests == 0) continue;
      s.by_route.push_back({static_cast<uint8_t>(route), status, requests,
                            bytes_by_route_[route][status].load(std::memory_order_relaxed)});
    }
  }
  return s;
}

}  // namespace relay::net
