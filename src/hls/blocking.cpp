#include "hls/blocking.hpp"

#include <cmath>

#include <fmt/format.h>

namespace relay::hls {

uint64_t part_advance_limit(double part_target_s) {
  if (part_target_s <= 0) return 3;
  return part_target_s < 1.0 ? static_cast<uint64_t>(std::ceil(3.0 / part_target_s - 1e-9)) : 3;
}

namespace {
// Parts of a segment, whether complete or open; nullopt when it is not known.
std::optional<uint64_t> parts_in(const RenditionSnapshot& s, uint64_t msn) {
  if (msn == s.open_msn && s.open_msn != 0) return s.open_parts.size();
  auto it = s.segments.find(msn);
  if (it == s.segments.end()) return std::nullopt;
  return it->second->parts.size();
}
}  // namespace

BlockVerdict check_block(const RenditionSnapshot& s, const BlockRequest& req) {
  uint64_t m = req.msn;
  // "The last Media Segment in the Playlist": the newest complete one, or, before
  // any is complete, the one being built counts as number 1's predecessor.
  uint64_t last = s.last_msn;
  if (m > last + 2) return BlockVerdict::bad_request;
  if (!req.part) return m <= last ? BlockVerdict::ready : BlockVerdict::wait;

  uint64_t n = *req.part;
  // Normalise "N past the last part of a complete segment M" to part 0 of M+1.
  if (m <= last) {
    auto count = parts_in(s, m);
    if (!count) return BlockVerdict::ready;  // too old to know its parts: answer at once
    if (n < *count) return BlockVerdict::ready;
    ++m;
    n = 0;
  }
  // Distance, in parts, from the newest part to the requested one.
  if (s.last_part_index < 0 || s.last_part_msn == 0) {
    return n <= part_advance_limit(s.part_target_s) ? BlockVerdict::wait : BlockVerdict::bad_request;
  }
  if (m < s.last_part_msn) return BlockVerdict::ready;
  if (m == s.last_part_msn && static_cast<int64_t>(n) <= s.last_part_index) return BlockVerdict::ready;
  uint64_t per_segment = s.part_target_s > 0 && s.target_duration_s > 0
                             ? static_cast<uint64_t>(std::ceil(s.target_duration_s / s.part_target_s - 1e-9))
                             : 1;
  const uint64_t newest = static_cast<uint64_t>(s.last_part_index);
  uint64_t ahead;
  if (m == s.last_part_msn) {
    ahead = n - newest;
  } else {
    // How many parts the newest part's segment still gets is not known; count it
    // as a full segment, but never below zero: fragments may be shorter than
    // PART-TARGET, so a segment can hold more than per_segment parts.
    uint64_t rest_of_newest = newest + 1 < per_segment ? per_segment - (newest + 1) : 0;
    ahead = rest_of_newest + (m - s.last_part_msn - 1) * per_segment + n + 1;
  }
  return ahead <= part_advance_limit(s.part_target_s) ? BlockVerdict::wait : BlockVerdict::bad_request;
}

std::string rendition_reports(const Store& store, size_t self) {
  std::string out;
  for (size_t i = 0; i < store.rendition_count(); ++i) {
    if (i == self) continue;
    auto s = store.rendition(i);
    if (!s || !s->playlist) continue;
    if (s->last_part_index >= 0) {
      out += fmt::format("#EXT-X-RENDITION-REPORT:URI=\"../{}/index.m3u8\",LAST-MSN={},LAST-PART={}\n", s->name,
                         s->last_part_msn, s->last_part_index);
    } else if (s->last_msn > 0) {
      out += fmt::format("#EXT-X-RENDITION-REPORT:URI=\"../{}/index.m3u8\",LAST-MSN={}\n", s->name, s->last_msn);
    }
  }
  return out;
}

}  // namespace relay::hls
