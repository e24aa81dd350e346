#pragma once
// What every session (HTTP/1.1, HTTP/2, WebSocket, event stream) shares; owned
// by the Server and outliving all sessions.
#include <chrono>
#include <cstdint>

namespace relay::edge {

class Router;
class ConnectionRegistry;
class PublishWaiters;
class HealthApi;
struct SseContext;
class QaApi;
struct WebsocketContext;
class StatsCounters;
class LiveLimits;
class ConnectionLimiter;
class BodyFiles;

struct SessionContext {
  const Router& router;
  ConnectionRegistry& registry;
  PublishWaiters& waiters;
  StatsCounters& stats;
  // The values at start. A SIGHUP reload changes `limits` only: sessions read
  // that when they start on a request, so a reload reaches open connections.
  std::chrono::milliseconds read_timeout;
  uint32_t max_header_bytes;
  uint64_t max_body_bytes;
  // The Q&A under /api/qa/ (REST and the WebSocket upgrade); null when it is off.
  const QaApi* qa_api = nullptr;
  const WebsocketContext* websocket = nullptr;
  // /metrics, /api/incidents and POST /api/qoe; null when health is off.
  const HealthApi* health_api = nullptr;
  const SseContext* sse = nullptr;  // the dashboard's event stream
  // Timeouts and size limits as they are now (see LiveLimits); never null in a running server.
  const LiveLimits* limits = nullptr;
  // The per-address and total connection caps; the listener admits through it.
  ConnectionLimiter* connections = nullptr;
  // Large bodies as files, for sendfile on plain HTTP/1.1; null: always written from memory.
  BodyFiles* body_files = nullptr;
};

}  // namespace relay::edge
