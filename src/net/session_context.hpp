#pragma once
// What every session (HTTP/1.1, HTTP/2, WebSocket, event stream) shares; owned
// by the Server and outliving all sessions.
#include <cstddef>

namespace relay::net {

class Handler;
class Waiters;
class ConnectionRegistry;
class StatsCounters;
class LiveLimits;
class ConnectionLimiter;
class BodyFiles;
class TrustedProxies;

struct SessionContext {
  const Handler& handler;
  Waiters& waiters;
  ConnectionRegistry& registry;
  StatsCounters& stats;
  // Timeouts and size limits as they are now; a SIGHUP reload changes them, and
  // sessions read them when they start on a request, so a reload reaches open connections.
  const LiveLimits& limits;
  // The per-address and total connection caps; the listener admits through it.
  ConnectionLimiter& connections;
  // Large bodies as files, for sendfile on plain HTTP/1.1; null: always written from memory.
  BodyFiles* body_files = nullptr;
  // Messages a WebSocket client may leave untaken before it is closed as too slow.
  size_t feed_queue_limit = 256;
  // edge.trusted_proxies: whose forwarded header names the client; null: none.
  const TrustedProxies* proxies = nullptr;
};

}  // namespace relay::net
