#pragma once
// What the relay tells browsers about itself, decided once from the config
// (edge.frame_ancestors, edge.websocket_origins, edge.plain_http,
// edge.hsts_max_age_s): the security header fields of every response, which
// pages may open a WebSocket here, and the move from plain HTTP to HTTPS. The
// header values are made once, so a response only copies them.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "net/http_types.hpp"

namespace relay::api {

class BrowserPolicy {
 public:
  // `media_origins`: other origins the player fetches the stream from, the
  // cache paths of [scale] pathways (config::pathway_origins); the pages may connect there.
  explicit BrowserPolicy(const config::EdgeConfig& edge, const std::vector<std::string>& media_origins = {});

  // Referrer-Policy on every response (X-Content-Type-Options comes with
  // net::set_common_headers); the
  // Content-Security-Policy on all but media (`page`); Strict-Transport-Security
  // on responses that go over TLS (`secure`), unless edge.hsts_max_age_s is 0.
  void apply(net::Response& res, bool page, bool secure) const;

  // Whether a WebSocket upgrade from a page of `origin` may go on. The relay's
  // own origin (the Host the request was sent to, over http or https) and
  // edge.websocket_origins may; a request without Origin comes from a program,
  // not a page another site made the browser send, and may too.
  bool websocket_origin_allowed(std::string_view origin, std::string_view host, bool secure) const;

  // For a request that came over plain HTTP while HTTPS is configured and
  // edge.plain_http is "redirect": the 308 to the same target on the HTTPS port.
  std::optional<net::Response> redirect_to_https(std::string_view host, std::string_view target, bool secure) const;

  // The bound HTTPS port, once known (edge.tls_listen may ask for port 0).
  void set_tls_port(uint16_t port) { tls_port_.store(port, std::memory_order_relaxed); }

  const std::string& content_security_policy() const { return csp_; }

 private:
  std::string csp_;
  std::string hsts_;  // empty: none
  std::vector<std::string> websocket_origins_;
  bool redirect_ = false;
  std::atomic<uint16_t> tls_port_{0};
};

// "example.org:8080" -> "example.org", "[::1]:8443" -> "[::1]"; nullopt for
// anything that is not a plain host name or address (it would go into a Location).
std::optional<std::string_view> host_without_port(std::string_view host);

}  // namespace relay::api
