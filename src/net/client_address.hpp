#pragma once
// Who a request is from when the relay stands behind a reverse proxy or a CDN:
// the TCP peer is the proxy, and the client's address is in a header the proxy
// adds (X-Forwarded-For, or RFC 7239 Forwarded: for=). The header is believed
// only when the peer is one of edge.trusted_proxies; anyone else could write
// any address into it. Of the chain of hops a header lists, the client is the
// right-most address that is not itself a trusted proxy: the hops to its left
// were written by the client and prove nothing. Pure and thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_network.hpp"
#include "net/http_types.hpp"

namespace relay::net {

enum class ForwardedHeader { x_forwarded_for, forwarded };

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // `networks`: addresses or CIDR networks, as config::EdgeConfig::trusted_proxies
  // (checked there); throws std::invalid_argument on one that is not.
  TrustedProxies(const std::vector<std::string>& networks, ForwardedHeader header);

  bool empty() const { return networks_.empty(); }
  ForwardedHeader header() const { return header_; }
  bool trusts(std::string_view address) const;
  bool trusts(const IpBytes& address) const;

  // The client's address for a request from `peer` (an address without port):
  // the peer itself unless it is trusted and the request names the hops before it.
  std::string client_of(std::string_view peer, const Request& request) const;

 private:
  std::vector<IpNetwork> networks_;
  ForwardedHeader header_ = ForwardedHeader::x_forwarded_for;
};

// One hop of a chain: its address, or nullopt for a hop that is not an address
// ("unknown", an obfuscated "_name", garbage).
using Hop = std::optional<IpBytes>;

// The hops of an X-Forwarded-For value, oldest first ("a, b:port, [v6]:port").
std::vector<Hop> parse_x_forwarded_for(std::string_view value);
// The for= nodes of a Forwarded value (RFC 7239), oldest first; an element without for= is a hop nobody named.
std::vector<Hop> parse_forwarded(std::string_view value);

// The client: walks `hops` from the right while each is a trusted proxy. A hop
// that is not an address ends the walk at the proxy that reported it, since
// nothing to its left can be told apart from what the client wrote.
std::string client_from_hops(std::string_view peer, const std::vector<Hop>& hops, const TrustedProxies& proxies);

// An address as text: dotted IPv4 (also for ::ffff:a.b.c.d), else IPv6.
std::string format_ip(const IpBytes& address);

}  // namespace relay::net
