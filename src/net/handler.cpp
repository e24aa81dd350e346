#include "net/handler.hpp"

#include <fmt/format.h>

namespace relay::net {
namespace http = boost::beast::http;

Response refuse_early(const RouteInfo& route, http::status status, std::string_view message) {
  if (!route.json_errors) return make_error_response(status, message);
  const char* reason = status == http::status::payload_too_large                 ? "too_large"
                       : status == http::status::request_header_fields_too_large ? "header_too_large"
                       : status == http::status::request_timeout                 ? "timeout"
                                                                                 : "bad_request";
  return make_json_error(status, reason, message);
}

std::string frame_event(std::string_view data, bool first) {
  return first ? fmt::format("retry: 2000\n\ndata: {}\n\n", data) : fmt::format("data: {}\n\n", data);
}

}  // namespace relay::net
