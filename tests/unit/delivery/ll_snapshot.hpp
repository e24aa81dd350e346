#pragma once
// Hand-made Low-Latency HLS rendition snapshots for the edge tests: what the
// packager would publish, with playlist texts that are easy to recognise.
#include <cstdint>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "hls/object_names.hpp"
#include "hls/store.hpp"

namespace relay::test {

// The stream instance of every hand-made snapshot: test literals name objects "seg-t0-1.m4s".
inline constexpr std::string_view kInstance = "t0";

inline std::string part_name(uint64_t msn, size_t index) { return hls::part_uri(kInstance, msn, index); }

inline std::string part_bytes(const std::string& rendition, uint64_t msn, size_t index) {
  return fmt::format("moof+mdat {} {}.{} ", rendition, msn, index) + std::string(100 + index, 'p');
}

inline hls::Part make_part(const std::string& rendition, uint64_t msn, size_t index) {
  hls::Part p;
  p.msn = msn;
  p.index = index;
  p.duration_s = 0.5;
  p.independent = index == 0;
  p.data = hls::make_bytes(part_bytes(rendition, msn, index));
  p.pdt_epoch_ms = 1'700'000'000'000 + static_cast<int64_t>(msn) * 2000 + static_cast<int64_t>(index) * 500;
  return p;
}

// Segments 1..last_msn complete with `parts_per_segment` parts each, segment
// last_msn + 1 open with `open_parts` parts; target duration 2 s, PART-TARGET 0.5 s.
inline std::shared_ptr<hls::RenditionSnapshot> make_ll_snapshot(const std::string& name, uint64_t version,
                                                                uint64_t last_msn, size_t open_parts,
                                                                size_t parts_per_segment = 4) {
  auto snap = std::make_shared<hls::RenditionSnapshot>();
  snap->name = name;
  snap->version = version;
  snap->target_duration_s = 2;
  snap->part_target_s = 0.5;
  snap->instance = kInstance;
  snap->init = hls::make_bytes("ftypmoov-" + name);
  snap->init_uri = hls::init_uri(*snap->init);
  std::string full = "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
                     "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.500,CAN-SKIP-UNTIL=12.000\n"
                     "#EXT-X-PART-INF:PART-TARGET=0.500\n#EXT-X-MEDIA-SEQUENCE:1\n";
  full += fmt::format("#EXT-X-MAP:URI=\"{}\"\n", snap->init_uri);
  std::string delta = full + "#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n";
  for (uint64_t msn = 1; msn <= last_msn; ++msn) {
    auto seg = std::make_shared<hls::Segment>();
    seg->msn = msn;
    seg->duration_s = 0.5 * static_cast<double>(parts_per_segment);
    seg->pdt_epoch_ms = 1'700'000'000'000 + static_cast<int64_t>(msn) * 2000;
    seg->init = snap->init;
    seg->init_uri = snap->init_uri;
    std::string data;
    std::string lines;
    for (size_t i = 0; i < parts_per_segment; ++i) {
      seg->parts.push_back(make_part(name, msn, i));
      data += *seg->parts.back().data;
      lines += fmt::format("#EXT-X-PART:DURATION=0.500,URI=\"{}\"\n", part_name(msn, i));
    }
    seg->data = hls::make_bytes(std::move(data));
    snap->segments[msn] = seg;
    lines += fmt::format("#EXTINF:{:.3f},\n{}\n", seg->duration_s, hls::segment_uri(kInstance, msn));
    full += lines;
    if (msn > 1) delta += lines;
  }
  snap->last_msn = last_msn;
  snap->open_msn = last_msn + 1;
  snap->hint_msn = snap->open_msn;
  snap->hint_index = open_parts;
  std::string open;
  for (size_t i = 0; i < open_parts; ++i) {
    snap->open_parts.push_back(make_part(name, snap->open_msn, i));
    open += fmt::format("#EXT-X-PART:DURATION=0.500,URI=\"{}\"\n", part_name(snap->open_msn, i));
  }
  open += fmt::format("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{}\"\n", part_name(snap->open_msn, open_parts));
  full += open;
  delta += open;
  snap->playlist = hls::make_bytes(std::move(full));
  snap->playlist_delta = last_msn > 1 ? hls::make_bytes(std::move(delta)) : nullptr;
  if (open_parts > 0) {
    snap->last_part_msn = snap->open_msn;
    snap->last_part_index = static_cast<int64_t>(open_parts) - 1;
  } else if (last_msn > 0) {
    snap->last_part_msn = last_msn;
    snap->last_part_index = static_cast<int64_t>(parts_per_segment) - 1;
  }
  snap->last_segment_epoch_ms = 1'700'000'000'000;
  snap->last_segment_duration_s = 2.0;
  return snap;
}

}  // namespace relay::test
