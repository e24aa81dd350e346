#pragma once
// Writes HLS playlists (draft-pantos-hls-rfc8216bis) from plain values.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hls/media.hpp"
#include "hls/object_names.hpp"

namespace relay::hls {

// Low-Latency HLS settings of a media playlist; all times in seconds.
struct LowLatency {
  double part_target = 0.5;
  // PART-TARGET as written (millisecond precision, rounded up so that no part,
  // e.g. ten frames at 30 fps, is ever longer than it), and 3 × that.
  double advertised_part_target() const { return std::ceil(part_target * 1000 - 1e-6) / 1000; }
  // At least that: renditions with different PART-TARGETs (AAC parts are whole
  // frames) state one PART-HOLD-BACK, 3 × the longest, so SERVER-CONTROL is the same in all.
  double part_hold_back_s = 0;
  double part_hold_back() const { return std::max(part_hold_back_s, 3 * advertised_part_target()); }
};

struct MediaPlaylistView {
  int target_duration_s = 2;
  std::string instance;  // in segment and part names
  // The open segment's init section; each complete segment names its own.
  // Empty: no EXT-X-MAP (MPEG-TS).
  std::string init_uri;
  std::string segment_extension = "m4s";
  std::string part_extension = "m4s";  // "vtt" for WebVTT subtitles
  std::vector<std::shared_ptr<const Segment>> segments;  // oldest first, consecutive msn
  uint64_t discontinuity_sequence = 0;  // discontinuities before the first listed segment

  // Low latency: parts of the newest segments, the segment being built, a hint.
  std::optional<LowLatency> low_latency;
  uint64_t open_msn = 0;  // 0: no segment being built
  int64_t open_pdt_epoch_ms = 0;
  std::vector<Part> open_parts;
  bool open_discontinuity = false;  // the open segment starts a new init or timeline
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

struct Variant {
  std::string uri;  // e.g. "720p/index.m3u8"
  uint64_t bandwidth_bps = 0;
  uint64_t average_bandwidth_bps = 0;
  int width = 0, height = 0;
  double frame_rate = 0;
  std::string codecs;  // "avc1.64001f,mp4a.40.2"
  std::string stable_id;  // STABLE-VARIANT-ID with content steering: the rendition's name
};

// HLS content steering (rfc8216bis 4.4.6.6): the cache paths a player may take.
struct Pathway {
  std::string id;          // PATHWAY-ID
  std::string media_base;  // absolute URL the variant URIs are relative to through this path
};
struct ContentSteering {
  std::string server_uri;          // the steering manifest, absolute or relative to the master
  std::vector<Pathway> pathways;   // in order of preference; the first is where players start
};

// With `steering`, each variant is listed once per pathway, with its PATHWAY-ID
// and an absolute URI under that pathway; without, once, with its relative URI.
std::string write_master_playlist(const std::vector<Variant>& variants, const ContentSteering* steering = nullptr);

// EXTINF rounded to the nearest integer, as the target-duration rule compares it.
int rounded_duration(double seconds);

}  // namespace relay::hls
