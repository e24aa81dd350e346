#pragma once
// The open sessions (HTTP and WebSocket), so that stop() can close every one of
// them. Sessions own themselves (shared_from_this); this only holds weak references.
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace relay::edge {

// What the registry can do to a session: close it, from any thread.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void close() = 0;
};

class ConnectionRegistry {
 public:
  // False once close_all() ran: the caller must then drop the connection, so one
  // accepted during shutdown cannot keep the worker threads alive.
  bool add(uint64_t id, std::weak_ptr<Connection> session);
  void remove(uint64_t id);
  void close_all();
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> sessions_;
  bool closing_ = false;
};

}  // namespace relay::edge
