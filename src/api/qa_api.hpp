#pragma once
// The Q&A's REST API under /api/qa/ and its WebSocket on /api/qa/ws: matches
// the path against a table of routes, parses bearer tokens and JSON bodies,
// calls the qa::Service and maps its errors to 4xx answers with a JSON body
// {"error", "message"}. Reads are answered at once; the methods a route marks
// as writing run on the Q&A's own thread (a WorkQueue), so a database commit
// and its fsync never hold up a thread that serves video, and are answered
// from there once committed. A WebSocket upgrade becomes a QaFeed of the
// room's events, which opens once the client's first message brought its
// token ({"type":"auth","token":…}).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/work_queue.hpp"
#include "net/handler.hpp"
#include "qa/service.hpp"

namespace relay::api {

using net::Response;

inline constexpr std::string_view kQaPrefix = "/api/qa/";
inline constexpr std::string_view kQaWebSocketPath = "/api/qa/ws";

// Which room a WebSocket subscribes to, once the upgrade request checked out,
// and who, once its first message brought a token.
struct QaSubscription {
  int64_t room = 0;
  std::optional<uint64_t> since;
  std::string epoch;
  qa::Caller caller;
  std::string token;  // what opened it, checked again on a reload (staff only); never logged
};

class QaApi {
 public:
  // `writes` runs the requests that change something; null runs them inline
  // (tests and the fuzzer). Both must outlive the api.
  explicit QaApi(qa::Service& service, WorkQueue* writes = nullptr) : service_(service), writes_(writes) {}

  net::Outcome handle(const net::Exchange& exchange) const;
  // A request answered on the calling thread, whatever it does. `client` is the
  // peer's IP address (for the limit on new attendee tokens).
  Response answer(const net::Request& req, std::string_view path, std::string_view client) const;
  // For an upgrade request on kQaWebSocketPath: what to subscribe to, or the error response.
  std::variant<QaSubscription, Response> check_upgrade(const net::Exchange& exchange) const;

  qa::Service& service() const { return service_; }

 private:
  qa::Service& service_;
  WorkQueue* writes_;
};

}  // namespace relay::api
