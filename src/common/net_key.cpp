#include "common/net_key.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstring>

namespace relay {

std::string network_key(std::string_view address) {
  const std::string text(address);
  std::array<unsigned char, 16> bytes{};
  if (address.size() >= INET6_ADDRSTRLEN || inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) return text;
  char out[INET6_ADDRSTRLEN] = {};
  static constexpr unsigned char kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(bytes.data(), kV4Mapped, sizeof kV4Mapped) == 0) {
    inet_ntop(AF_INET, bytes.data() + 12, out, sizeof out);
    return out;
  }
  std::memset(bytes.data() + 8, 0, 8);
  inet_ntop(AF_INET6, bytes.data(), out, sizeof out);
  return std::string(out) + "/64";
}

}  // namespace relay
