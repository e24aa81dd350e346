#pragma once
// Writes HLS playlists (draft-pantos-hls-rfc8216bis) from plain values.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hls/media.hpp"

namespace relay::hls {

struct MediaPlaylistView {
  int target_duration_s = 2;
  std::string init_uri = "init.mp4";  // empty: no EXT-X-MAP (MPEG-TS)
  std::vector<std::shared_ptr<const Segment>> segments;  // oldest first, consecutive msn
};

std::string write_media_playlist(const MediaPlaylistView& view);

// The URI of a segment relative to its media playlist.
std::string segment_uri(uint64_t msn);

struct Variant {
  std::string uri;  // e.g. "720p/index.m3u8"
  uint64_t bandwidth_bps = 0;
  uint64_t average_bandwidth_bps = 0;
  int width = 0, height = 0;
  double frame_rate = 0;
  std::string codecs;  // "avc1.64001f,mp4a.40.2"
};

std::string write_master_playlist(const std::vector<Variant>& variants);

// EXTINF rounded to the nearest integer, as the target-duration rule compares it.
int rounded_duration(double seconds);

}  // namespace relay::hls
