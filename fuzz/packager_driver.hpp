#pragma once
// Feeds a muxer's byte stream to the HLS packager (hls/packager) the way the
// ingest does, for the fmp4 and mpegts targets. The first input byte picks the
// options: bit 0 Low-Latency parts, bits 1..3 the chunk size the stream arrives
// in (whole, or 1..64 bytes, so the box and packet splitters see every cut),
// bits 4..5 the segment duration. The rest is the stream. A malformed stream
// must be refused with fmp4::ParseError, the exception the packager documents.
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "hls/fmp4.hpp"
#include "hls/master.hpp"
#include "hls/packager.hpp"
#include "hls/store.hpp"

namespace relay::fuzz {

inline void drive_packager(const uint8_t* data, size_t size, bool mpegts) {
  if (size == 0) return;
  const uint8_t options = data[0];
  const std::string_view stream = as_text(data + 1, size - 1);

  hls::PackagerOptions opts;
  opts.name = "360p";
  opts.mpegts = mpegts;
  opts.segment_duration_s = 0.5 * (1 + ((options >> 4) & 0x3));
  opts.part_target_s = (options & 1) ? opts.segment_duration_s / 2 : 0;
  opts.live_window = 3;
  opts.max_bytes = 1 << 20;
  hls::Store store({opts.name});
  hls::VariantSpec spec;
  spec.name = opts.name;
  spec.bitrate_kbps = 800;
  spec.segment_duration_s = opts.segment_duration_s;
  hls::MasterPlaylist master({spec}, store);
  hls::Packager packager(opts, 0, store, &master);
  packager.set_time_origin(1'700'000'000'000);

  const size_t chunk_bits = (options >> 1) & 0x7;
  const size_t chunk = chunk_bits == 0 ? stream.size() : size_t{1} << (chunk_bits - 1);
  try {
    for (size_t at = 0; at < stream.size(); at += chunk) packager.push(stream.substr(at, chunk));
  } catch (const hls::fmp4::ParseError&) {
    return;
  }
  if (auto snap = store.rendition(0); snap->version > 0) {
    FUZZ_CHECK(snap->playlist != nullptr);
    FUZZ_CHECK(snap->segments.empty() || snap->segments.rbegin()->first == snap->last_msn);
  }
}

}  // namespace relay::fuzz
