#pragma once
// The rules of blocking playlist reload (rfc8216bis 6.2.5.2) as a pure function of
// a rendition snapshot, so the edge only has to wait and re-ask.
#include <cstdint>
#include <optional>
#include <string>

#include "hls/store.hpp"

namespace relay::hls {

enum class BlockVerdict {
  ready,        // answer now with the current playlist
  wait,         // hold the request until the next publish (or the 503 deadline)
  bad_request,  // 400 at once: beyond the advance limits
};

struct BlockRequest {
  uint64_t msn = 0;
  std::optional<uint64_t> part;
};

// `_HLS_msn=M` waits for segment M to be complete; `_HLS_msn=M&_HLS_part=N` for
// part N of M, where N past the last part of a complete M means part 0 of M+1.
BlockVerdict check_block(const RenditionSnapshot& snap, const BlockRequest& req);

// How many parts a request may run ahead of the newest one: 3 / PART-TARGET when
// PART-TARGET < 1 s, else 3.
uint64_t part_advance_limit(double part_target_s);

// The EXT-X-RENDITION-REPORT lines for every rendition but `self` that has parts
// or segments, naming the newest MSN/part that exists there.
std::string rendition_reports(const Store& store, size_t self);

}  // namespace relay::hls
