#pragma once
// Writes HLS playlists (draft-pantos-hls-rfc8216bis) from plain values.
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hls/media.hpp"

namespace relay::hls {

// Low-Latency HLS settings of a media playlist; all times in seconds.
struct LowLatency {
  double part_target = 0.5;
  // PART-TARGET as written (millisecond precision, rounded up so that no part,
  // e.g. ten frames at 30 fps, is ever longer than it), and 3 × that.
  double advertised_part_target() const { return std::ceil(part_target * 1000 - 1e-6) / 1000; }
  double part_hold_back() const { return 3 * advertised_part_target(); }
};

struct MediaPlaylistView {
  int target_duration_s = 2;
  std::string init_uri = "init.mp4";  // empty: no EXT-X-MAP (MPEG-TS)
  std::string segment_extension = "m4s";
  std::vector<std::shared_ptr<const Segment>> segments;  // oldest first, consecutive msn
  uint64_t discontinuity_sequence = 0;  // discontinuities before the first listed segment

  // Low latency: parts of the newest segments, the segment being built, a hint.
  std::optional<LowLatency> low_latency;
  uint64_t open_msn = 0;  // 0: no segment being built
  int64_t open_pdt_epoch_ms = 0;
  bool open_discontinuity = false;  // the open segment follows a discontinuity
  std::vector<Part> open_parts;
  uint64_t hint_msn = 0;  // EXT-X-PRELOAD-HINT target; 0: none
  size_t hint_index = 0;
  bool delta = false;  // an _HLS_skip=YES update: old segments replaced by EXT-X-SKIP
};

double hold_back(int target_duration_s);       // 3 × target duration
double can_skip_until(int target_duration_s);  // 6 × target duration

// Segments a delta update may leave out: those ending at least CAN-SKIP-UNTIL
// before the end of the playlist, counted from the oldest.
size_t skippable_segments(const MediaPlaylistView& view);

std::string write_media_playlist(const MediaPlaylistView& view);

// The URIs of a segment and a part, relative to their media playlist.
std::string segment_uri(uint64_t msn, std::string_view extension = "m4s");
std::string part_uri(uint64_t msn, size_t index);

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
