#pragma once
// The one seam between the transport and the application. An HTTP/1.1 or
// HTTP/2 session parses a request, asks the Handler which route it is on, hands
// it the request, and carries out what comes back:
//   a Response  sent at once;
//   a Hold      the request waits (no thread) for a wake on its channel, is
//               handed to the handler again after each, and gets expire() at
//               its deadline;
//   a Deferred  the response is made elsewhere (a database commit on its own
//               thread) and handed back from there;
//   an Upgrade  the connection becomes a WebSocket feed or an event stream.
// The transport knows nothing of HLS, Q&A or health; the application knows
// nothing of sockets, TLS or HTTP/2 frames.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <variant>

#include "net/feed.hpp"
#include "net/http_types.hpp"
#include "net/request_target.hpp"

namespace relay::net {

// One request as the application sees it. Everything is owned by the session
// and stays valid while the request is held or deferred.
struct Exchange {
  const Request& message;
  const RequestTarget& target;  // parsed once, before the handler sees it
  std::string_view client;      // the peer's IP address, without the port
  size_t route = 0;             // Handler::route() of the target
  bool secure = false;          // it came over TLS
};

// A request that cannot be answered yet (e.g. a blocking playlist reload).
struct Hold {
  size_t channel = 0;  // the Waiters channel whose wakes may answer it
  std::chrono::milliseconds timeout{0};
  uint32_t note = 0;   // the handler's own, for expire(); the transport only carries it
};

// Wakes for held requests. Implemented by the application (a publish of new
// media wakes the requests held on its rendition).
class Waiters {
 public:
  // Called on the waking thread, maybe with a lock held: it must only post to
  // the waiter's own executor.
  using Wake = std::function<void()>;
  virtual ~Waiters() = default;
  // Wakes after every event on `channel` until remove(). Returns the waiter's
  // id, or 0 once close() ran (the caller must then answer by itself).
  virtual uint64_t add(size_t channel, Wake wake) = 0;
  virtual void remove(uint64_t id) = 0;
  // Drops every waiter and refuses new ones; no Wake runs after it returns.
  virtual void close() = 0;
};

// The response comes later, from another thread: start() is called once with
// `complete`, which takes the response exactly once, from any thread.
struct Deferred {
  using Complete = std::function<void(Response)>;
  std::function<void(Complete complete)> start;
};

// The connection leaves HTTP: exactly one of the two is set.
struct Upgrade {
  std::shared_ptr<Feed> websocket;       // a WebSocket (RFC 6455) carrying this feed
  std::shared_ptr<EventSource> events;   // a text/event-stream of these events
};

using Outcome = std::variant<Response, Hold, Deferred, Upgrade>;

// What the transport needs to know of a route before and after the handler runs.
struct RouteInfo {
  uint8_t label = 0;          // index of the per-route request counters (StatsCounters)
  bool json_errors = false;   // errors found before the request is whole are answered in JSON
  bool secret_query = false;  // the query may carry a token: logs show the path only
  uint64_t max_body_bytes = 0;  // the largest request body taken; 0 = edge.max_body_bytes
};

class Handler {
 public:
  virtual ~Handler() = default;
  // The route a target is on (an index the handler gives meaning to), from its
  // path as sent. Known as soon as the request line is read.
  virtual size_t route(std::string_view target) const = 0;
  virtual const RouteInfo& info(size_t route) const = 0;
  // The largest RouteInfo::max_body_bytes of any route: the transport must let a
  // declared body that large through the header, before it knows the route.
  virtual uint64_t largest_body_bytes() const { return 0; }
  // Any worker thread, many at once. Asked again with the same exchange after
  // each wake while the request is held.
  virtual Outcome handle(const Exchange& exchange) const = 0;
  // The answer to a held request whose time ran out (or that the edge, shutting
  // down, stops waiting for).
  virtual Response expire(const Exchange& exchange, const Hold& hold) const = 0;
};

// The answer to a request refused before it was whole (400, 408, 413, 431):
// JSON on the API routes, text elsewhere; the connection closes after it.
Response refuse_early(const RouteInfo& route, boost::beast::http::status status, std::string_view message);

// What a log may show of a target.
inline std::string_view loggable_target(const RouteInfo& route, std::string_view target) {
  return route.secret_query ? target.substr(0, target.find('?')) : target;
}

}  // namespace relay::net
