#pragma once
// An audio-only rendition that follows the video's segments and parts: AAC frames
// arrive (from the ladder's appsink, on the ladder's clock) and wait until the
// video's packager reports a part cut (PartCut); the frames that fall inside it
// become one fMP4 part with the video's msn and part index. Every part boundary
// is the AAC frame boundary nearest the video's, so segments start within half
// an AAC frame (about 11 ms at 48 kHz) of the video's.
//
// Thread-safe: frames and cuts come from different streaming threads.
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "hls/aac_fragments.hpp"
#include "hls/packager.hpp"
#include "hls/store.hpp"

namespace relay::hls {

class AudioRendition {
 public:
  // `options.part_target_s` is the video's; the playlist states the longest
  // audio part, which is one AAC frame longer when frames do not divide it.
  AudioRendition(PackagerOptions options, size_t index, Store& store);

  // The encoder's format (once, from its caps); later calls with the same format are ignored.
  void set_format(const aac::Format& format);
  // One AAC frame, timed on the video's decode timeline in nanoseconds once
  // set_origin() is known (frames before the video's first are dropped).
  void push_frame(int64_t running_ns, std::string frame);
  // The running time (ns) of the video's decode time zero.
  void set_origin(int64_t running_ns);
  void on_video_part(const PartCut& cut);

  // Totals for the overhead figures in /metrics and the report.
  uint64_t media_bytes() const;
  uint64_t fragment_bytes() const;

  static double part_target_for(double video_part_s, uint32_t rate);

 private:
  struct Frame {
    int64_t decode = 0;  // samples on the video's timeline
    std::string bytes;
  };
  void push_frame_locked(int64_t running_ns, std::string frame);
  void drain_locked();

  mutable std::mutex mutex_;
  uint32_t rate_ = 0;
  std::optional<int64_t> origin_ns_;
  std::optional<int64_t> next_decode_;  // where the next frame is expected; unset before the first
  std::deque<std::pair<int64_t, std::string>> early_;  // frames that came before the origin was known
  std::deque<Frame> frames_;
  std::deque<PartCut> cuts_;
  bool started_ = false;  // a segment has been opened
  uint32_t sequence_ = 1;
  uint64_t media_bytes_ = 0, fragment_bytes_ = 0;
  Packager packager_;
};

}  // namespace relay::hls
