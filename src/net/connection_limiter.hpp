#pragma once
// Counts open connections, in all and per client address, against
// edge.max_connections and edge.max_connections_per_ip. The listener asks before
// it starts a session; the session (and the WebSocket or event stream it turns
// into) holds the slot until its socket closes.
//
// "Per IP" means per client network (relay::client_network): IPv6 per /64, IPv4
// per address. A trusted reverse proxy (edge.trusted_proxies) carries a whole
// audience on one address, so it is exempt from the per-IP cap; its
// connections still count against the total.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace relay::net {

class ConnectionLimiter;
class LiveLimits;

// One admitted connection; move-only, gives its place back when destroyed.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionSlot&& other) noexcept;
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept;
  ~ConnectionSlot();

 private:
  friend class ConnectionLimiter;
  ConnectionSlot(ConnectionLimiter* limiter, std::string address)
      : limiter_(limiter), address_(std::move(address)) {}
  void release();

  ConnectionLimiter* limiter_ = nullptr;
  std::string address_;
};

enum class Admission { admitted, over_address_cap, over_total_cap };

class ConnectionLimiter {
 public:
  // The caps are read at each admit(), so a reload applies to the next connection.
  explicit ConnectionLimiter(const LiveLimits& limits) : limits_(limits) {}

  // On admitted, `slot` holds the place; otherwise it is left empty.
  // `exempt_from_address_cap`: only the total cap applies (a trusted proxy).
  Admission admit(const std::string& address, ConnectionSlot& slot, bool exempt_from_address_cap = false);

  size_t open() const;
  // Connections counted against the cap of the network `address` belongs to.
  size_t open_from(const std::string& address) const;

 private:
  friend class ConnectionSlot;
  void release(const std::string& address);

  const LiveLimits& limits_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, uint32_t> by_address_;
  size_t total_ = 0;
};

}  // namespace relay::net
