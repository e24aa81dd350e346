#include "net/http_types.hpp"

#include <ctime>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "net/etag.hpp"

namespace relay::net {
namespace http = boost::beast::http;

namespace {

// The current time as an IMF-fixdate. It changes once a second, so each thread formats
// it once a second rather than once a response.
std::string_view http_date_now() {
  thread_local std::time_t formatted = -1;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != formatted) {
    text = format_http_date(now);
    formatted = now;
  }
  return text;
}

// message::keep_alive() without needing a whole message: the HTTP/1.0 and 1.1 defaults.
bool wants_keep_alive(const RequestHeader& req) {
  auto connection = req[http::field::connection];
  if (req.version() < 11) return http::token_list(connection).exists("keep-alive");
  return !http::token_list(connection).exists("close");
}

}  // namespace

void set_common_headers(Response& res) {
  res.set(http::field::server, kServerName);
  res.set(http::field::date, http_date_now());
  res.set("X-Content-Type-Options", "nosniff");
}

Response make_error_response(http::status status, std::string_view message) {
  Response res{status, 11};
  set_common_headers(res);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  std::string text(message);
  text += '\n';
  res.body() = BytesBody::value_type(make_bytes(std::move(text)));
  res.content_length(res.body().size());
  return res;
}

Response make_json_response(http::status status, std::string body) {
  Response res{status, 11};
  set_common_headers(res);
  res.set(http::field::content_type, "application/json; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.body() = BytesBody::value_type(make_bytes(std::move(body)));
  res.content_length(res.body().size());
  return res;
}

Response make_json_error(http::status status, std::string_view reason, std::string_view message) {
  return make_json_response(status, nlohmann::json{{"error", reason}, {"message", message}}.dump(
                                        -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::optional<Response> refuse_unless_json(const Request& req) {
  const std::string_view type = req[http::field::content_type];
  if (type.empty() && req.body().empty()) return std::nullopt;
  // The media type, without parameters (charset) or case (RFC 9110 8.3.1).
  std::string_view media = type.substr(0, type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  if (boost::beast::iequals(media, "application/json")) return std::nullopt;
  return make_json_error(http::status::unsupported_media_type, "unsupported_media_type",
                         "the body must be JSON, sent with Content-Type: application/json");
}

void finish(const RequestHeader& req, Response& res) {
  // A response that says close (a refused upgrade, a shutdown) stays so; every
  // response is made as HTTP/1.1, so without that it reads as keep-alive here.
  const bool closing = !res.keep_alive();
  res.version(req.version());
  res.keep_alive(!closing && wants_keep_alive(req));
  if (req.method() == http::verb::head) res.body() = BytesBody::value_type();
}

}  // namespace relay::net
