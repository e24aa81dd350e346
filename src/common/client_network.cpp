#include "common/client_network.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace relay {

std::string client_network(std::string_view address) {
  const std::string text(address);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return text;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return text;
  char out[INET6_ADDRSTRLEN] = {};
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::copy_n(v6.s6_addr + 12, 4, reinterpret_cast<uint8_t*>(&v4.s_addr));
    return inet_ntop(AF_INET, &v4, out, sizeof out) ? std::string(out) : text;
  }
  std::fill(v6.s6_addr + 8, v6.s6_addr + 16, uint8_t{0});
  return inet_ntop(AF_INET6, &v6, out, sizeof out) ? std::string(out) + "/64" : text;
}

}  // namespace relay
