#include "net/connection_registry.hpp"

#include <vector>

namespace relay::net {

bool ConnectionRegistry::add(uint64_t id, std::weak_ptr<Connection> session) {
  std::lock_guard lock(mutex_);
  if (closing_) return false;
  sessions_.emplace(id, std::move(session));
  return true;
}

void ConnectionRegistry::remove(uint64_t id) {
  std::lock_guard lock(mutex_);
  sessions_.erase(id);
}

std::vector<std::shared_ptr<Connection>> ConnectionRegistry::take_open() {
  std::vector<std::shared_ptr<Connection>> open;
  std::lock_guard lock(mutex_);
  closing_ = true;
  for (auto& [id, weak] : sessions_)
    if (auto session = weak.lock()) open.push_back(std::move(session));
  return open;
}

void ConnectionRegistry::close_all() {
  // Outside the lock: a session's destructor calls remove().
  for (auto& session : take_open()) session->close();
}

void ConnectionRegistry::drain_all() {
  for (auto& session : take_open()) session->drain();
}

size_t ConnectionRegistry::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace relay::net
