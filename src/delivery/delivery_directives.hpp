#pragma once
// The Playlist Delivery Directives of a media playlist request's query
// (rfc8216bis 6.2.5): _HLS_msn, _HLS_part and _HLS_skip. Other parameters are
// left to whoever added them (cache busters, tokens) and ignored here.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay::delivery {

struct DeliveryDirectives {
  std::optional<uint64_t> msn;   // _HLS_msn: a blocking reload
  std::optional<uint64_t> part;  // _HLS_part: only together with _HLS_msn
  // _HLS_skip=YES or v2. The two differ only in skipping EXT-X-DATERANGE tags,
  // which this relay never writes, so one delta playlist answers both.
  bool skip = false;
  std::string error;  // why the query deserves a 400; empty when it is usable
  bool ok() const { return error.empty(); }
};

DeliveryDirectives parse_delivery_directives(std::string_view query);

}  // namespace relay::delivery
