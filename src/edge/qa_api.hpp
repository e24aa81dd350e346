#pragma once
// The Q&A's REST API under /api/qa/ and the checks before a WebSocket upgrade on
// /api/qa/ws: parses paths, bearer tokens and JSON bodies, calls the qa::Service
// and maps its errors to 4xx answers with a JSON body {"error", "message"}. No
// sockets: the session hands it a complete request and sends what it returns.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "edge/router.hpp"
#include "qa/service.hpp"

namespace relay::edge {

using FullRequest = boost::beast::http::request<boost::beast::http::string_body>;

inline constexpr std::string_view kQaPrefix = "/api/qa/";
inline constexpr std::string_view kQaWebSocketPath = "/api/qa/ws";

// Who may subscribe to which room, once the upgrade request checked out.
struct QaSubscription {
  int64_t room = 0;
  qa::Caller caller;
  std::optional<uint64_t> since;
  std::string epoch;
};

class QaApi {
 public:
  explicit QaApi(qa::Service& service) : service_(service) {}

  // `client` is the peer's IP address (for the limit on new attendee tokens).
  Response handle(const FullRequest& req, const std::string& client) const;
  // For an upgrade request on kQaWebSocketPath: what to subscribe to, or the error response.
  std::variant<QaSubscription, Response> check_upgrade(const FullRequest& req) const;

  qa::Service& service() const { return service_; }

 private:
  Response dispatch(const FullRequest& req, std::string_view path, const std::string& client) const;

  qa::Service& service_;
};

bool is_qa_target(std::string_view target);

}  // namespace relay::edge
