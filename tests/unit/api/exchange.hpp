#pragma once
// Hands a request to an API the way a session does (the target parsed once,
// the route looked up) and returns what it answers, finished as the transport
// finishes it (version, keep-alive, HEAD).
#include <optional>
#include <string_view>

#include <catch2/catch.hpp>

#include "net/handler.hpp"
#include "net/request_target.hpp"

namespace relay::test {

template <class Api>
net::Outcome handle(const Api& api, const net::Request& req, std::string_view client = "127.0.0.1",
                    size_t route = 0) {
  const net::RequestTarget target = net::parse_request_target(req.target());
  return api.handle(net::Exchange{req, target, client, route});
}

// The response to a request the API answers (at once or deferred); fails the
// test on a hold or an upgrade.
template <class Api>
net::Response respond(const Api& api, const net::Request& req, std::string_view client = "127.0.0.1",
                      size_t route = 0) {
  net::Outcome outcome = handle(api, req, client, route);
  std::optional<net::Response> response;
  if (auto* now = std::get_if<net::Response>(&outcome)) {
    response = std::move(*now);
  } else if (auto* deferred = std::get_if<net::Deferred>(&outcome)) {
    deferred->start([&](net::Response later) { response = std::move(later); });
  }
  REQUIRE(response);
  net::finish(req, *response);
  return std::move(*response);
}

}  // namespace relay::test
