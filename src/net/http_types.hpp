#pragma once
// The request and response types every layer above the transport speaks, and
// the few ways to make and finish a response that all of them share.
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/bytes_body.hpp"

namespace relay::net {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using RequestHeader = boost::beast::http::request_header<>;
using Response = boost::beast::http::response<BytesBody>;

inline constexpr std::string_view kServerName = "seminar-relay";

// Server, Date and X-Content-Type-Options, which every response carries.
void set_common_headers(Response& res);

// A small text/plain error with Cache-Control: no-store.
Response make_error_response(boost::beast::http::status status, std::string_view message);
// A JSON body as given, Cache-Control: no-store.
Response make_json_response(boost::beast::http::status status, std::string body);
// The APIs' error form: {"error": reason, "message": message}. Messages may quote
// what a client sent, which need not be UTF-8: bad bytes are replaced.
Response make_json_error(boost::beast::http::status status, std::string_view reason, std::string_view message);

// 415 for a request whose body (or declared Content-Type) is not
// application/json, which the JSON APIs take only: a page of another site can
// POST text/plain or a form without asking (a CORS "simple" request), but not JSON.
std::optional<Response> refuse_unless_json(const Request& req);

// What every response gets from the request it answers, on either protocol:
// the request's HTTP version, keep-alive as the request asked (RFC 9112 9.3),
// and no body bytes for HEAD (Content-Length stays that of the GET answer).
void finish(const RequestHeader& req, Response& res);

}  // namespace relay::net
