#pragma once
// The edge limits a SIGHUP reload may change while the worker threads serve:
// each is a relaxed atomic, read where a session needs it (when it starts reading
// a request or writing a response), so a new value applies from each
// connection's next request on and nobody is dropped by a reload.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "config/config.hpp"

namespace relay::net {

// A response must not stall a connection (HTTP/1.1) or a stream (HTTP/2)
// forever, yet a segment to a phone on a weak link legitimately takes a while:
// it gets the read timeout plus one second per kMinSendRate bytes (64 KiB, about
// 512 kbit/s) to be taken by the client.
inline constexpr uint64_t kMinSendRate = 64 * 1024;

constexpr std::chrono::milliseconds send_timeout(std::chrono::milliseconds read_timeout, uint64_t bytes) {
  return read_timeout + std::chrono::seconds(bytes / kMinSendRate);
}

class LiveLimits {
 public:
  explicit LiveLimits(const config::EdgeConfig& edge) { set(edge); }
  LiveLimits(const LiveLimits&) = delete;
  LiveLimits& operator=(const LiveLimits&) = delete;

  void set(const config::EdgeConfig& edge) {
    store(header_timeout_ms_, edge.header_timeout_s * 1000);
    store(idle_timeout_ms_, edge.idle_timeout_s * 1000);
    store(read_timeout_ms_, edge.read_timeout_s * 1000);
    store(shutdown_grace_ms_, edge.shutdown_grace_s * 1000);
    max_header_bytes_.store(static_cast<uint32_t>(edge.max_header_bytes), std::memory_order_relaxed);
    max_body_bytes_.store(static_cast<uint64_t>(edge.max_body_bytes), std::memory_order_relaxed);
    max_connections_.store(static_cast<uint32_t>(edge.max_connections), std::memory_order_relaxed);
    max_connections_per_ip_.store(static_cast<uint32_t>(edge.max_connections_per_ip), std::memory_order_relaxed);
  }

  // From a request's first byte to the end of its header.
  std::chrono::milliseconds header_timeout() const { return load(header_timeout_ms_); }
  // A keep-alive connection waiting for its next request.
  std::chrono::milliseconds idle_timeout() const { return load(idle_timeout_ms_); }
  // From a request's first byte to the end of its body; also the base of a response's write deadline.
  std::chrono::milliseconds read_timeout() const { return load(read_timeout_ms_); }
  // How long a response of `bytes` may take to be sent (send_timeout above).
  std::chrono::milliseconds send_timeout(uint64_t bytes) const { return net::send_timeout(read_timeout(), bytes); }
  std::chrono::milliseconds shutdown_grace() const { return load(shutdown_grace_ms_); }
  uint32_t max_header_bytes() const { return max_header_bytes_.load(std::memory_order_relaxed); }
  uint64_t max_body_bytes() const { return max_body_bytes_.load(std::memory_order_relaxed); }
  uint32_t max_connections() const { return max_connections_.load(std::memory_order_relaxed); }
  uint32_t max_connections_per_ip() const { return max_connections_per_ip_.load(std::memory_order_relaxed); }

 private:
  static void store(std::atomic<int64_t>& to, double ms) { to.store(static_cast<int64_t>(ms), std::memory_order_relaxed); }
  static std::chrono::milliseconds load(const std::atomic<int64_t>& from) {
    return std::chrono::milliseconds(from.load(std::memory_order_relaxed));
  }

  std::atomic<int64_t> header_timeout_ms_{0};
  std::atomic<int64_t> idle_timeout_ms_{0};
  std::atomic<int64_t> read_timeout_ms_{0};
  std::atomic<int64_t> shutdown_grace_ms_{0};
  std::atomic<uint32_t> max_header_bytes_{0};
  std::atomic<uint64_t> max_body_bytes_{0};
  std::atomic<uint32_t> max_connections_{0};
  std::atomic<uint32_t> max_connections_per_ip_{0};
};

}  // namespace relay::net
