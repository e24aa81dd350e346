#include "api/browser_policy.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include "common/text.hpp"

namespace relay::api {
namespace http = boost::beast::http;
namespace {

// The pages load only their own scripts and style sheets (no inline script or
// style), talk only to the relay (fetch, WebSocket: 'self' covers ws: and wss:
// of the same host), play media from MediaSource blobs, and hls.js runs its
// worker from a blob URL. With cache paths, the player also fetches the stream
// (playlists, media, the steering manifest) from each of them.
std::string make_csp(const std::vector<std::string>& frame_ancestors, const std::vector<std::string>& media_origins) {
  std::string connect = "'self'";
  for (const std::string& origin : media_origins) connect += " " + origin;
  std::string ancestors;
  for (const std::string& a : frame_ancestors) ancestors += (ancestors.empty() ? "" : " ") + a;
  if (ancestors.empty()) ancestors = "'none'";
  return fmt::format(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
      "media-src 'self' blob:; connect-src {}; worker-src 'self' blob:; object-src 'none'; "
      "base-uri 'none'; form-action 'self'; frame-ancestors {}",
      connect, ancestors);
}

uint16_t port_of(std::string_view listen) {
  uint16_t port = 0;
  const std::string_view digits = listen.substr(listen.rfind(':') + 1);
  std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return port;
}

}  // namespace

std::optional<std::string_view> host_without_port(std::string_view host) {
  const bool valid = !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  if (!valid) return std::nullopt;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    return host.substr(0, close + 1);
  }
  return host.substr(0, host.find(':'));
}

BrowserPolicy::BrowserPolicy(const config::EdgeConfig& edge, const std::vector<std::string>& media_origins)
    : csp_(make_csp(edge.frame_ancestors, media_origins)),
      hsts_(edge.hsts_max_age_s > 0 ? fmt::format("max-age={}", edge.hsts_max_age_s) : std::string()),
      websocket_origins_(edge.websocket_origins),
      redirect_(!edge.tls_listen.empty() && edge.plain_http == "redirect"),
      tls_port_(edge.tls_listen.empty() ? 0 : port_of(edge.tls_listen)) {}

void BrowserPolicy::apply(net::Response& res, bool page, bool secure) const {
  // insert, not set: no handler writes these, so there is nothing to look for and replace.
  // Nothing of a page's address (a room, a staff page) goes to another site.
  res.insert("Referrer-Policy", "no-referrer");
  if (page) res.insert("Content-Security-Policy", csp_);
  if (secure && !hsts_.empty()) res.insert(http::field::strict_transport_security, hsts_);
}

bool BrowserPolicy::websocket_origin_allowed(std::string_view origin, std::string_view host, bool secure) const {
  if (origin.empty()) return true;
  for (const std::string& allowed : websocket_origins_)
    if (text::iequals(origin, allowed)) return true;
  // The relay's own origin: the scheme the request came over and the Host it was sent to.
  const std::string_view scheme = secure ? "https://" : "http://";
  return !host.empty() && origin.size() == scheme.size() + host.size() &&
         text::iequals(origin.substr(0, scheme.size()), scheme) &&
         text::iequals(origin.substr(scheme.size()), host);
}

std::optional<net::Response> BrowserPolicy::redirect_to_https(std::string_view host, std::string_view target,
                                                              bool secure) const {
  if (secure || !redirect_) return std::nullopt;
  const auto name = host_without_port(host);
  if (!name) return net::make_error_response(http::status::bad_request, "HTTPS only: send a Host header");
  const uint16_t port = tls_port_.load(std::memory_order_relaxed);
  const std::string location =
      port == 443 ? fmt::format("https://{}{}", *name, target) : fmt::format("https://{}:{}{}", *name, port, target);
  net::Response res = net::make_error_response(http::status::permanent_redirect, "this relay is served over HTTPS: " + location);
  res.set(http::field::location, location);
  return res;
}

}  // namespace relay::api
