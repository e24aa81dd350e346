#pragma once
// The open sessions (HTTP and WebSocket), so that stop() can close every one of
// them. Sessions own themselves (shared_from_this); this only holds weak references.
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace relay::net {

// What the registry can do to a session, from any thread: close it at once, or
// (at shutdown) let it finish what is in flight and then close it.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void close() = 0;
  // A response being written completes and ends the connection; an idle one
  // closes now; a WebSocket says "going away". By default, close().
  virtual void drain() { close(); }
};

class ConnectionRegistry {
 public:
  // False once close_all() ran: the caller must then drop the connection, so one
  // accepted during shutdown cannot keep the worker threads alive.
  bool add(uint64_t id, std::weak_ptr<Connection> session);
  void remove(uint64_t id);
  void close_all();
  // Refuses new sessions as close_all() does, and asks each open one to drain().
  void drain_all();
  size_t size() const;

 private:
  // Sets closing_ and returns the sessions still alive.
  std::vector<std::shared_ptr<Connection>> take_open();

  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> sessions_;
  bool closing_ = false;
};

}  // namespace relay::net
