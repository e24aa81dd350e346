#pragma once
// The receiving side of HLS ingest by HTTP PUT. Another encoder (a hall relay,
// ffmpeg `-method PUT`) pushes each rendition's objects (init section, parts or
// whole segments) and then the media playlist that lists them. Objects wait in a
// small bounded buffer; each playlist says in which order they go, and the ones
// not yet fed go, each exactly once and in that order, into the rendition's own
// packager, which republishes them as if they were local media: the relay's own
// segments, parts, playlists, blocking reload and master playlist, no transcoding.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hls/media.hpp"
#include "hls/pushed_playlist.hpp"

namespace relay::hls {

class Packager;

// Where a rendition's pushed media goes (the packager, in the relay).
class FeedTarget {
 public:
  virtual ~FeedTarget() = default;
  virtual void init(std::string_view bytes) = 0;
  // A part or a whole segment; `segment_pdt_epoch_ms` when it starts a segment
  // whose playlist entry has a PROGRAM-DATE-TIME.
  virtual void media(std::string_view bytes, std::optional<int64_t> segment_pdt_epoch_ms) = 0;
  virtual void discontinuity() = 0;
  // The pusher's playlist lists the segment fed last as complete.
  virtual void end_segment() = 0;
};

// Feeds a Packager.
class PackagerTarget final : public FeedTarget {
 public:
  explicit PackagerTarget(Packager& packager) : packager_(packager) {}
  void init(std::string_view bytes) override;
  void media(std::string_view bytes, std::optional<int64_t> segment_pdt_epoch_ms) override;
  void discontinuity() override;
  void end_segment() override;

 private:
  Packager& packager_;
};

struct PushLimits {
  size_t max_object_bytes = 16u << 20;  // one object (init, part, segment)
  size_t max_buffered_objects = 256;    // objects waiting for a playlist
  size_t max_buffered_bytes = 64u << 20;
};

// What one playlist did.
struct FeedReport {
  size_t fed = 0;          // objects handed to the target
  size_t skipped = 0;      // listed objects passed over (already fed, or lost before a gap)
  bool gap = false;        // a discontinuity was made
  bool restarted = false;  // the pusher's sequence went back: a new stream
  std::string waiting_for; // the missing object the feed stopped at; empty when it reached the end
};

// One rendition's pushed objects and how far they were fed. Not thread-safe:
// PushReceiver serialises the calls.
class PushedRendition {
 public:
  PushedRendition(FeedTarget& target, PushLimits limits) : target_(target), limits_(limits) {}

  // An object PUT. Returns false when it is larger than max_object_bytes (not kept).
  // When the buffer is over its bounds, the oldest objects waiting go (counted in evicted()).
  bool store(const std::string& name, std::string bytes);
  // An object DELETE; true when it was there.
  bool remove(const std::string& name);
  // A media playlist PUT, already parsed: feeds every object it lists that was
  // not fed yet, in order, until one is missing. Exceptions of the target (a
  // malformed fMP4 object) pass through; what was fed before stays fed.
  FeedReport on_playlist(const PushedPlaylist& playlist);

  // The relay's own slate went into the target since the last feed: the next
  // feed starts at a whole segment, after a discontinuity, with the pusher's
  // init section again (the target holds the slate's now).
  void resume_after_slate();

  size_t buffered_objects() const { return objects_.size(); }
  size_t buffered_bytes() const { return buffered_bytes_; }
  uint64_t evicted() const { return evicted_; }

 private:
  // One listed object in feed order: a part, or a whole segment (part == kWhole).
  struct Position {
    uint64_t msn;
    size_t part;
    const std::string* uri;
    const PushedSegment* segment;
  };
  static constexpr size_t kWhole = static_cast<size_t>(-1);

  static std::vector<Position> positions(const PushedPlaylist& playlist);
  bool before_next(const Position& p) const;
  bool is_next(const Position& p) const;
  // Feeds the object at p (and its init first when that changed); false when an object is missing.
  bool feed(const Position& p, FeedReport& report);
  std::optional<std::string> take(const std::string& name);
  void advance_past(const Position& p);

  FeedTarget& target_;
  PushLimits limits_;
  std::map<std::string, std::string, std::less<>> objects_;
  std::deque<std::string> arrival_;  // names in the order they came, for eviction
  size_t buffered_bytes_ = 0;
  uint64_t evicted_ = 0;

  bool started_ = false;  // a segment start was fed since the last gap
  bool fed_any_ = false;
  bool pending_discontinuity_ = false;  // the next segment start follows a gap
  uint64_t resume_from_msn_ = 0;        // after a gap: no segment before this one is fed
  uint64_t next_msn_ = 0;
  size_t next_part_ = 0;  // 0: the next object starts segment next_msn_
  std::string init_uri_;  // the init section fed last
  std::string init_bytes_;
  bool refeed_init_ = false;  // init_bytes_ go in again before the next media (after the slate)
  std::string stalled_at_;  // the object the previous playlist stopped at
};

// Every rendition of a push-receiving relay, by the store's rendition index.
// Thread-safe: PUTs of different renditions run side by side, each rendition's
// one at a time.
class PushReceiver {
 public:
  struct Totals {
    uint64_t bytes = 0;               // bytes of objects and playlists accepted
    uint64_t media_bytes = 0;         // of those, objects (init sections, parts, segments)
    uint64_t objects_accepted = 0;    // objects and playlists accepted
    uint64_t objects_rejected = 0;    // refused: too large, bad playlist, bad media
    uint64_t gaps = 0;                // discontinuities made
    uint64_t playlists_without_parts = 0;  // media playlists with segments but no LL-HLS parts (ffmpeg)
    int64_t last_object_epoch_ms = 0; // wall clock of the newest accepted PUT; 0 = none yet
    int64_t newest_pdt_epoch_ms = 0;  // the newest PROGRAM-DATE-TIME pushed; 0 = none
  };

  // `packagers` by rendition index; they must outlive the receiver.
  PushReceiver(std::vector<Packager*> packagers, PushLimits limits);
  ~PushReceiver();

  size_t rendition_count() const { return renditions_.size(); }
  const PushLimits& limits() const { return limits_; }

  enum class Result { ok, too_large, bad_playlist, bad_media };
  struct Outcome {
    Result result = Result::ok;
    std::string message;  // for a refusal: what is wrong, for the pusher
    FeedReport report;
  };
  Outcome put_object(size_t rendition, const std::string& name, std::string bytes, int64_t now_epoch_ms);
  Outcome put_playlist(size_t rendition, std::string_view text, int64_t now_epoch_ms);
  bool delete_object(size_t rendition, const std::string& name);
  void record_rejected();

  // The relay's own slate while the uplink is lost: from begin_slate() on, each
  // rendition's packager takes slate_media() (the slate ladder's muxer output)
  // after a discontinuity, with PDTs from `now_epoch_ms` on; the rendition's
  // next pushed playlist ends it there (slate output dropped from then on) and
  // the pushed media resumes at its next whole segment after a discontinuity.
  void begin_slate(int64_t now_epoch_ms);
  void slate_media(size_t rendition, std::string_view bytes);
  // Renditions still showing the slate.
  size_t slate_renditions() const;

  Totals totals() const;

 private:
  struct Rendition;
  void accepted(size_t bytes, bool media, int64_t now_epoch_ms, int64_t newest_pdt_epoch_ms);

  PushLimits limits_;
  std::vector<std::unique_ptr<Rendition>> renditions_;
  mutable std::mutex totals_mutex_;
  Totals totals_;
};

}  // namespace relay::hls
