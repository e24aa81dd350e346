#include "common/ip_network.hpp"

#include <arpa/inet.h>

#include <string>

#include "common/text.hpp"

namespace relay {

std::optional<IpBytes> parse_ip(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string terminated(text);
  IpBytes bytes{};
  if (inet_pton(AF_INET6, terminated.c_str(), bytes.data()) == 1) return bytes;
  if (inet_pton(AF_INET, terminated.c_str(), bytes.data() + 12) == 1) {
    bytes[10] = bytes[11] = 0xff;
    return bytes;
  }
  return std::nullopt;
}

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
  const size_t slash = text.find('/');
  std::optional<IpBytes> base = parse_ip(text.substr(0, slash));
  if (!base) return std::nullopt;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  IpNetwork network;
  network.base_ = *base;
  if (slash != std::string_view::npos) {
    std::optional<uint64_t> bits = text::parse_digits(text.substr(slash + 1));
    if (!bits || *bits > (v4 ? 32u : 128u)) return std::nullopt;
    network.prefix_bits_ = static_cast<int>(*bits) + (v4 ? 96 : 0);
  }
  // The host bits of the base do not matter: "10.1.2.3/8" is 10.0.0.0/8.
  for (int bit = network.prefix_bits_; bit < 128; ++bit) network.base_[bit / 8] &= ~(0x80 >> (bit % 8));
  return network;
}

bool IpNetwork::contains(const IpBytes& address) const {
  for (int bit = 0; bit < prefix_bits_; ++bit) {
    const uint8_t mask = 0x80 >> (bit % 8);
    if ((address[bit / 8] & mask) != (base_[bit / 8] & mask)) return false;
  }
  return true;
}

}  // namespace relay
