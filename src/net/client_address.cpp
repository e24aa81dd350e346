#include "net/client_address.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

#include "common/text.hpp"

namespace relay::net {
namespace http = boost::beast::http;
namespace {

// Only the right end of a chain can matter; a longer one is a client padding it.
constexpr size_t kMaxHops = 32;

bool is_v4_mapped(const IpBytes& a) {
  static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), kPrefix, sizeof kPrefix) == 0;
}

// "192.0.2.1", "192.0.2.1:8080", "[2001:db8::1]", "[2001:db8::1]:8080", or a bare
// IPv6 address (X-Forwarded-For only; RFC 7239 requires the brackets).
Hop parse_node(std::string_view node, bool bare_ipv6) {
  node = text::trim(node);
  if (node.starts_with('[')) {
    const size_t close = node.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = node.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
    std::string_view inside = node.substr(1, close - 1);
    if (inside.find(':') == std::string_view::npos) return std::nullopt;  // "[192.0.2.1]"
    return parse_ip(inside);
  }
  const size_t colon = node.find(':');
  if (colon != std::string_view::npos && node.find(':', colon + 1) == std::string_view::npos)
    node = node.substr(0, colon);  // IPv4 with a port
  else if (colon != std::string_view::npos && !bare_ipv6)
    return std::nullopt;
  return parse_ip(node);
}

// Splits at `separator` outside double-quoted strings (with backslash escapes).
std::vector<std::string_view> split_outside_quotes(std::string_view value, char separator) {
  std::vector<std::string_view> parts;
  bool quoted = false, escaped = false;
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (escaped) {
      escaped = false;
    } else if (quoted && c == '\\') {
      escaped = true;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == separator) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(value.substr(start));
  return parts;
}

void keep_right_end(std::vector<Hop>& hops) {
  if (hops.size() > kMaxHops) hops.erase(hops.begin(), hops.end() - kMaxHops);
}

// Every line of a field, joined as one list (RFC 9110 5.3).
std::string joined_field(const Request& request, std::string_view name) {
  std::string joined;
  for (auto [it, end] = request.equal_range(name); it != end; ++it) {
    if (!joined.empty()) joined += ',';
    joined.append(it->value().data(), it->value().size());
  }
  return joined;
}

}  // namespace

std::string format_ip(const IpBytes& address) {
  char out[INET6_ADDRSTRLEN] = {};
  if (is_v4_mapped(address))
    inet_ntop(AF_INET, address.data() + 12, out, sizeof out);
  else
    inet_ntop(AF_INET6, address.data(), out, sizeof out);
  return out;
}

std::vector<Hop> parse_x_forwarded_for(std::string_view value) {
  std::vector<Hop> hops;
  for (std::string_view entry : split_outside_quotes(value, ',')) {
    if (text::trim(entry).empty()) continue;  // "a,,b" and a trailing comma are list syntax, not hops
    hops.push_back(parse_node(entry, /*bare_ipv6=*/true));
  }
  keep_right_end(hops);
  return hops;
}

std::vector<Hop> parse_forwarded(std::string_view value) {
  std::vector<Hop> hops;
  for (std::string_view element : split_outside_quotes(value, ',')) {
    if (text::trim(element).empty()) continue;
    Hop hop;
    for (std::string_view pair : split_outside_quotes(element, ';')) {
      pair = text::trim(pair);
      const size_t equals = pair.find('=');
      if (equals == std::string_view::npos || !text::iequals(text::trim(pair.substr(0, equals)), "for")) continue;
      std::string_view node = text::trim(pair.substr(equals + 1));
      if (node.size() >= 2 && node.front() == '"' && node.back() == '"') {
        node = node.substr(1, node.size() - 2);
        // An escape in an address means it is not one.
        if (node.find('\\') != std::string_view::npos) break;
      }
      hop = parse_node(node, /*bare_ipv6=*/false);
      break;
    }
    hops.push_back(hop);
  }
  keep_right_end(hops);
  return hops;
}

std::string client_from_hops(std::string_view peer, const std::vector<Hop>& hops, const TrustedProxies& proxies) {
  std::optional<IpBytes> current = parse_ip(peer);
  if (!current || !proxies.trusts(*current)) return std::string(peer);
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    if (!*hop) break;
    current = **hop;
    if (!proxies.trusts(*current)) break;
  }
  return format_ip(*current);
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& networks, ForwardedHeader header) : header_(header) {
  for (const std::string& text : networks) {
    auto network = IpNetwork::parse(text);
    if (!network) throw std::invalid_argument("not an address or network: " + text);
    networks_.push_back(*network);
  }
}

bool TrustedProxies::trusts(const IpBytes& address) const {
  for (const IpNetwork& network : networks_) {
    if (network.contains(address)) return true;
  }
  return false;
}

bool TrustedProxies::trusts(std::string_view address) const {
  if (networks_.empty()) return false;
  auto parsed = parse_ip(address);
  return parsed && trusts(*parsed);
}

std::string TrustedProxies::client_of(std::string_view peer, const Request& request) const {
  if (!trusts(peer)) return std::string(peer);
  const bool xff = header_ == ForwardedHeader::x_forwarded_for;
  const std::string value = joined_field(request, xff ? "X-Forwarded-For" : "Forwarded");
  return client_from_hops(peer, xff ? parse_x_forwarded_for(value) : parse_forwarded(value), *this);
}

}  // namespace relay::net
