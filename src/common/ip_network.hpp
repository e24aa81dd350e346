#pragma once
// IP addresses and networks ("192.0.2.0/24", "2001:db8::/32", or one address)
// as 16 bytes: IPv4 is kept mapped into IPv6 (::ffff:a.b.c.d), so an IPv4
// network also matches the same address arriving on a dual-stack socket.
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace relay {

using IpBytes = std::array<uint8_t, 16>;

// An IPv4 or IPv6 address in its usual text form, without port or brackets.
std::optional<IpBytes> parse_ip(std::string_view text);

class IpNetwork {
 public:
  // "address" or "address/prefix" (0..32 for IPv4, 0..128 for IPv6); nullopt if it is neither.
  static std::optional<IpNetwork> parse(std::string_view text);
  bool contains(const IpBytes& address) const;

 private:
  IpBytes base_{};
  int prefix_bits_ = 128;  // of the 16 bytes
};

}  // namespace relay
