#pragma once
// Checks and percent-decodes the path of a request target before any route sees it,
// so no handler has to think about traversal or odd encodings.
#include <string>
#include <string_view>

namespace relay::net {

inline constexpr size_t kMaxTargetLength = 2048;

struct RequestTarget {
  std::string path;        // percent-decoded; empty when rejected
  std::string_view query;  // raw, without '?'; kept for LL-HLS delivery directives
  std::string error;       // why the target was rejected; empty when accepted
  bool ok() const { return error.empty(); }
};

RequestTarget parse_request_target(std::string_view target);

}  // namespace relay::net
