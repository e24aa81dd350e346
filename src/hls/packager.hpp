#pragma once
// Turns one rendition's fragmented-MP4 muxer output into HLS segments: the init
// section, then segments that each start at a video fragment beginning with an IDR,
// with their parts, PDT and exact durations; keeps the live/DVR window bounded and
// publishes an immutable snapshot with a ready-made playlist to the store.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hls/fmp4.hpp"
#include "hls/master.hpp"
#include "hls/media.hpp"
#include "hls/mpegts.hpp"
#include "hls/store.hpp"

namespace relay::hls {

// Where a video part was cut, for the audio-only renditions that follow the
// video's segments and parts (hls/audio_rendition.hpp). Times are seconds of
// the video track's decode time.
struct PartCut {
  uint64_t msn = 0;
  size_t index = 0;  // 0: the part opens segment msn
  double start_s = 0;
  double end_s = 0;
  int64_t time_origin_epoch_ms = 0;  // wall clock of decode time zero
};

struct PackagerOptions {
  std::string name;
  double segment_duration_s = 2.0;
  int live_window = 6;
  double dvr_window_s = 0;
  size_t max_bytes = 128u << 20;  // media this rendition may hold
  double part_target_s = 0;       // > 0: Low-Latency HLS, published after every part (fMP4 only)
  bool mpegts = false;            // the muxer writes MPEG-TS instead of fragmented MP4
  int width = 0, height = 0;      // for the master playlist when the stream cannot say (MPEG-TS)
  double frame_rate = 30;
  // This run's id in segment and part names, the same for every rendition
  // (hls/object_names.hpp); a fresh one when empty.
  std::string instance = {};
  // Called after every video part is added (on the pushing thread).
  std::function<void(const PartCut&)> on_part = {};
  // An audio-only rendition: its init section has no video track, and its parts
  // come whole through push_audio_part().
  bool audio_only = false;
  double part_hold_back_s = 0;  // PART-HOLD-BACK when above 3 × PART-TARGET
};

class Packager {
 public:
  Packager(PackagerOptions options, size_t index, Store& store, MasterPlaylist* master);

  // Wall clock (epoch ms) of decode time zero of the muxer's tracks.
  void set_time_origin(int64_t epoch_ms) { time_origin_epoch_ms_ = epoch_ms; }
  bool has_time_origin() const { return time_origin_epoch_ms_ != 0; }
  // The wall clock of the next segment to open, as another packager stamped it
  // (pushed media): the time origin is moved so that segment gets exactly this PDT.
  void set_next_pdt(int64_t epoch_ms) { next_pdt_epoch_ms_ = epoch_ms; }

  // What comes next does not continue what came before (pushed media after a
  // gap, a new init section): the open segment closes as it is, and the next
  // one starts at an IDR with EXT-X-DISCONTINUITY.
  void discontinuity();
  // The open segment is complete (pushed media, whose playlist says where
  // segments end): it is published now, not when the next one starts.
  void end_segment();

  // Bytes as the muxer produced them, in order, in any chunking. Throws
  // fmp4::ParseError on a malformed stream.
  void push(std::string_view bytes);

  // Audio-only renditions: one part (a moof+mdat) starting at `start_decode` in
  // `timescale` units; `opens_segment` starts segment `msn` with it.
  void push_audio_part(std::string fragment, uint64_t start_decode, uint32_t timescale, double duration_s,
                       bool opens_segment, uint64_t msn);

  const std::vector<fmp4::Track>& tracks() const { return tracks_; }
  uint64_t segments_published() const { return next_msn_ - 1; }
  // How many segments the playlist lists (never under 3 target durations).
  size_t listed_count() const;
  int target_duration() const { return target_duration_s_; }

 private:
  void on_box(const std::string& type, std::string bytes);
  void push_ts(std::string_view bytes);
  void on_fragment(const std::string& moof, const std::string& mdat);
  void open_segment(uint64_t start_decode, uint32_t timescale);
  void add_part(double duration_s, bool independent, std::string data, uint64_t frames, uint64_t media_time_90k);
  void close_segment();
  void break_segment();
  int64_t open_pdt_epoch_ms() const;
  void evict();
  void publish();

  PackagerOptions options_;
  size_t index_;
  Store& store_;
  MasterPlaylist* master_;

  fmp4::BoxSplitter splitter_;
  mpegts::Splitter ts_splitter_;
  std::string ts_open_bytes_;
  uint64_t ts_open_pts_ = 0;
  std::optional<uint64_t> ts_first_pts_;
  bool ts_described_ = false;
  std::string init_bytes_;
  Bytes init_;
  std::string init_uri_;
  std::vector<fmp4::Track> tracks_;
  std::string pending_moof_;
  std::string pending_other_;  // fragments of non-video tracks waiting for the next video part

  int64_t time_origin_epoch_ms_ = 0;
  int64_t next_pdt_epoch_ms_ = 0;  // 0: none
  bool discontinuity_next_ = false;   // the next segment opened gets EXT-X-DISCONTINUITY
  bool open_discontinuity_ = false;   // the open segment has it
  uint64_t discontinuities_evicted_ = 0;  // for EXT-X-DISCONTINUITY-SEQUENCE
  int target_duration_s_;

  // The segment being built.
  std::vector<Part> open_parts_;
  double open_duration_s_ = 0;
  uint64_t open_start_decode_ = 0;
  uint32_t open_timescale_ = 1;
  uint64_t open_frames_ = 0;
  bool open_ = false;
  Bytes open_init_;
  std::string open_init_uri_;

  uint64_t next_msn_ = 1;
  uint64_t version_ = 0;
  std::deque<std::shared_ptr<const Segment>> segments_;
  size_t held_bytes_ = 0;
};

}  // namespace relay::hls
