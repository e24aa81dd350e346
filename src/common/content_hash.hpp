#pragma once
// FNV-1a, 64 bit: fixed across builds, machines and restarts, unlike std::hash,
// so names and entity tags made from it agree wherever the same bytes are served.
#include <cstdint>
#include <string_view>

namespace relay {

inline uint64_t content_hash(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace relay
