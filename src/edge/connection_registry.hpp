#pragma once
// The open sessions, so that stop() can close every one of them. Sessions own
// themselves (shared_from_this); this only holds weak references.
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace relay::edge {

class HttpSession;

class ConnectionRegistry {
 public:
  // False once close_all() ran: the caller must then drop the connection, so one
  // accepted during shutdown cannot keep the worker threads alive.
  bool add(uint64_t id, std::weak_ptr<HttpSession> session);
  void remove(uint64_t id);
  void close_all();
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, std::weak_ptr<HttpSession>> sessions_;
  bool closing_ = false;
};

}  // namespace relay::edge
