#pragma once
// The segment store: where the ingest side publishes finished media and the edge
// reads it. Each rendition's state is an immutable snapshot replaced as a whole
// under a short lock, so readers never wait on the packager and never copy media.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hls/media.hpp"

namespace relay::hls {

struct RenditionSnapshot {
  std::string name;
  uint64_t version = 0;          // +1 on every publish
  Bytes playlist;                // the media playlist text (null until the first segment)
  // The id in this run's segment and part names (hls/object_names.hpp).
  std::string instance;
  Bytes init;                    // EXT-X-MAP init section (fMP4); null until known
  std::string init_uri;          // its name; empty with init
  std::string segment_extension = "m4s";  // "ts" for MPEG-TS
  std::map<uint64_t, std::shared_ptr<const Segment>> segments;  // every msn still servable
  uint64_t last_msn = 0;         // newest complete segment; 0 = none yet
  int target_duration_s = 0;
  // The playlist's EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE, so
  // renditions that follow this one (subtitles) list the same window.
  uint64_t first_listed_msn = 0;
  uint64_t discontinuity_sequence = 0;

  // Low-Latency HLS (part_target_s == 0 when off).
  double part_target_s = 0;
  uint64_t open_msn = 0;          // the segment being built; 0 = none
  std::vector<Part> open_parts;   // its parts so far
  bool open_discontinuity = false;  // it starts with EXT-X-DISCONTINUITY
  Bytes playlist_delta;           // the _HLS_skip=YES playlist; null when nothing can be skipped
  // The newest part listed, for blocking reload and rendition reports.
  uint64_t last_part_msn = 0;
  int64_t last_part_index = -1;
  // The part named by EXT-X-PRELOAD-HINT (hint_msn == 0: none): the next one,
  // which is part 0 of the next segment when the open one is full.
  uint64_t hint_msn = 0;
  size_t hint_index = 0;

  // A part by segment and index, from the open segment or a retained one.
  const Part* find_part(uint64_t msn, size_t index) const;
  // An init section by name: the current one or one a retained segment still needs.
  Bytes find_init(std::string_view uri) const;
  int64_t last_segment_epoch_ms = 0;  // wall clock when the newest segment was published
  double last_segment_duration_s = 0;
};

class Store {
 public:
  explicit Store(std::vector<std::string> rendition_names);

  // Writer side (the ingest thread).
  void publish(size_t rendition, std::shared_ptr<const RenditionSnapshot> snapshot);
  void set_master(Bytes master_playlist);

  // Reader side (any thread). Null/empty when not there yet.
  Bytes master() const;
  std::shared_ptr<const RenditionSnapshot> rendition(size_t index) const;
  // +1 on every publish of any rendition. A snapshot read after this value is at
  // least as new as the publish that made it, so what was derived from the whole
  // store (rendition reports) at one generation stays right until the next.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::optional<size_t> find(std::string_view name) const;
  size_t rendition_count() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }

  // Called (on the publishing thread) after each publish; keep it short and
  // hand work to your own executor. Returns an id for unsubscribe().
  using Listener = std::function<void(size_t rendition, uint64_t version)>;
  uint64_t subscribe(Listener listener);
  void unsubscribe(uint64_t id);

 private:
  std::vector<std::string> names_;
  mutable std::mutex mutex_;
  Bytes master_;
  std::vector<std::shared_ptr<const RenditionSnapshot>> snapshots_;
  std::atomic<uint64_t> generation_{0};
  std::map<uint64_t, std::shared_ptr<const Listener>> listeners_;
  uint64_t next_listener_id_ = 1;
};

}  // namespace relay::hls
