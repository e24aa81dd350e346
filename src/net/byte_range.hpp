#pragma once
// The single byte range a Range header asks for (RFC 9110 §14). Multi-range
// requests are answered in full: no player needs multipart/byteranges.
#include <cstdint>
#include <string_view>

namespace relay::net {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

struct RangeRequest {
  enum Kind { none, satisfiable, unsatisfiable };
  Kind kind = none;  // none: send the whole representation (absent, malformed or multi-range)
  ByteRange range;
};

RangeRequest parse_byte_range(std::string_view header, uint64_t size);

}  // namespace relay::net
