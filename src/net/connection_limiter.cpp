#include "net/connection_limiter.hpp"

#include <utility>

#include "common/client_network.hpp"
#include "net/live_limits.hpp"

namespace relay::net {

ConnectionSlot::ConnectionSlot(ConnectionSlot&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), address_(std::move(other.address_)) {}

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    address_ = std::move(other.address_);
  }
  return *this;
}

ConnectionSlot::~ConnectionSlot() { release(); }

void ConnectionSlot::release() {
  if (auto* limiter = std::exchange(limiter_, nullptr)) limiter->release(address_);
}

Admission ConnectionLimiter::admit(const std::string& address, ConnectionSlot& slot, bool exempt_from_address_cap) {
  std::string network = client_network(address);
  std::lock_guard lock(mutex_);
  if (total_ >= limits_.max_connections()) return Admission::over_total_cap;
  const auto [it, inserted] = by_address_.try_emplace(network, 0);
  if (!exempt_from_address_cap && it->second >= limits_.max_connections_per_ip()) {
    if (inserted) by_address_.erase(it);
    return Admission::over_address_cap;
  }
  ++it->second;
  ++total_;
  slot = ConnectionSlot(this, std::move(network));
  return Admission::admitted;
}

void ConnectionLimiter::release(const std::string& address) {
  std::lock_guard lock(mutex_);
  --total_;
  auto it = by_address_.find(address);
  if (it != by_address_.end() && --it->second == 0) by_address_.erase(it);
}

size_t ConnectionLimiter::open() const {
  std::lock_guard lock(mutex_);
  return total_;
}

size_t ConnectionLimiter::open_from(const std::string& address) const {
  std::lock_guard lock(mutex_);
  auto it = by_address_.find(client_network(address));
  return it == by_address_.end() ? 0 : it->second;
}

}  // namespace relay::net
