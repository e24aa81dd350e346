#pragma once
// Reads a media playlist that another encoder pushes to the relay (HLS ingest by
// HTTP PUT: a hall relay's uplink, or ffmpeg's `-method PUT`): which objects it
// lists, in which order, with their media sequence numbers, LL-HLS parts, init
// section and program-date-time. Only what republishing needs is read; tags it
// does not know are skipped. Anything malformed is a PlaylistError naming the
// line, never a crash: the text comes from the network.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace relay::hls {

class PlaylistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PushedPart {
  std::string uri;
  double duration_s = 0;
  bool independent = false;
};

// A segment as listed. The newest entry may be a segment still being built: parts
// only, no URI of its own (complete == false).
struct PushedSegment {
  uint64_t msn = 0;
  std::string uri;             // empty for the open segment
  double duration_s = 0;       // EXTINF
  int64_t pdt_epoch_ms = 0;    // EXT-X-PROGRAM-DATE-TIME; 0 = none
  bool discontinuity = false;  // EXT-X-DISCONTINUITY before it
  std::string map_uri;         // the EXT-X-MAP in force for it; empty = none
  std::vector<PushedPart> parts;
  bool complete() const { return !uri.empty(); }
};

struct PushedPlaylist {
  uint64_t media_sequence = 0;
  int target_duration_s = 0;
  double part_target_s = 0;  // EXT-X-PART-INF; 0 = no LL-HLS parts
  bool ended = false;        // EXT-X-ENDLIST
  std::vector<PushedSegment> segments;  // oldest first, consecutive msn
};

// Limits on what is read: far above any real live playlist, low enough that a
// hostile one costs little.
inline constexpr size_t kMaxPushedPlaylistBytes = 1u << 20;
inline constexpr size_t kMaxPushedSegments = 10000;
inline constexpr size_t kMaxObjectNameBytes = 200;

// Throws PlaylistError with the line number and what is wrong.
PushedPlaylist parse_pushed_playlist(std::string_view text);

// Whether `name` is a plain object name a pusher may use: 1..kMaxObjectNameBytes
// of [A-Za-z0-9._-], not "." or "..", no path, no query.
bool valid_object_name(std::string_view name);

// "2026-12-07T04:03:00.123Z" or with an offset ("+01:00"), to Unix milliseconds; nullopt-like -1 on error.
int64_t parse_iso8601_ms(std::string_view text);

}  // namespace relay::hls
