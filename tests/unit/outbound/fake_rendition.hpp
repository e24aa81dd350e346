#pragma once
// Snapshots of one rendition as the packager publishes them, for the uplink's tests.
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "hls/store.hpp"

namespace relay::test {

// The stream instance in the fake's object names (hls/object_names.hpp).
inline constexpr std::string_view kInstance = "tst1";

// A rendition as the packager publishes it: 2 s segments of `parts_per_segment`
// parts, the same Bytes for a part in every snapshot (as the store shares them).
class FakeRendition {
 public:
  explicit FakeRendition(bool low_latency = true, size_t parts_per_segment = 4, size_t part_bytes = 1000)
      : low_latency_(low_latency), parts_per_segment_(parts_per_segment), part_bytes_(part_bytes) {}

  // The snapshot after `parts` parts of media since msn 1 (whole segments only
  // without LL-HLS), the oldest `window` segments retained.
  hls::RenditionSnapshot at(size_t parts, size_t window = 100) {
    hls::RenditionSnapshot s;
    s.name = "720p";
    s.version = ++version_;
    s.instance = std::string(kInstance);
    s.init = init;
    s.init_uri = init_name;
    s.part_target_s = low_latency_ ? 0.5 : 0;
    const uint64_t complete = parts / parts_per_segment_;
    const size_t open = parts % parts_per_segment_;
    const uint64_t oldest = complete > window ? complete - window + 1 : 1;
    for (uint64_t msn = oldest; msn <= complete; ++msn) s.segments[msn] = segment(msn, parts_per_segment_);
    s.last_msn = complete;
    if (low_latency_ && open) {
      s.open_msn = complete + 1;
      for (size_t i = 0; i < open; ++i) s.open_parts.push_back(part(complete + 1, i));
    }
    // Playlists appear with the first segment, as the packager's do; each
    // carries how much media it lists, for the order checks.
    if (complete > 0 || (s.open_msn && !s.segments.empty()))
      s.playlist = make_bytes(fmt::format("#EXTM3U\n#EXT-X-MAP:URI=\"{}\"\n#LISTS:{}\n", init_name, parts));
    return s;
  }

  Bytes init = make_bytes(std::string(700, 'i'));
  std::string init_name = "init-42.mp4";

 private:
  hls::Part part(uint64_t msn, size_t index) {
    auto& data = parts_[{msn, index}];
    if (!data) data = make_bytes(std::string(part_bytes_, static_cast<char>('a' + (msn + index) % 26)));
    return {msn, index, 0.5, index == 0, data};
  }
  std::shared_ptr<const hls::Segment> segment(uint64_t msn, size_t parts) {
    auto& seg = segments_[msn];
    if (seg) return seg;
    auto made = std::make_shared<hls::Segment>();
    made->msn = msn;
    made->duration_s = 2;
    std::string whole;
    if (low_latency_) {
      for (size_t i = 0; i < parts; ++i) {
        made->parts.push_back(part(msn, i));
        whole += *made->parts.back().data;
      }
    } else {
      whole.assign(parts * part_bytes_, static_cast<char>('A' + msn % 26));
    }
    made->data = make_bytes(whole);
    seg = made;
    return seg;
  }

  bool low_latency_;
  size_t parts_per_segment_, part_bytes_;
  uint64_t version_ = 0;
  std::map<std::pair<uint64_t, size_t>, Bytes> parts_;
  std::map<uint64_t, std::shared_ptr<const hls::Segment>> segments_;
};

}  // namespace relay::test
