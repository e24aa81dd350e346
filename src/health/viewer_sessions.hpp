#pragma once
// Viewers as the edge sees them: the distinct playback sessions that asked for a
// rendition's playlist, init section, segments or parts within the window, told
// apart by the X-Playback-Session-Id request header. hls.js on the attendee page
// adds it to every request (the same id its QoE reports carry); Safari's and
// iOS's own player sends one unasked. No cookies, nothing stored per person.
// A session counts under the rendition of its newest request, so a player that
// switched renditions is counted once. Bounded: beyond `max_sessions` live ones,
// new sessions are not tracked and their requests only counted. Thread-safe, in
// shards, so edge threads recording at the same time rarely wait for each other.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace relay::health {

class ViewerSessions {
 public:
  static constexpr size_t kMaxIdLength = 64;

  // Times are milliseconds of a monotonic clock.
  explicit ViewerSessions(int64_t window_ms = 30000, size_t max_sessions = 100000);

  // 1..64 of A-Z a-z 0-9 _ -: a UUID (Safari) or the attendee page's random hex.
  static bool valid_id(std::string_view id);

  // A request of `session` for `rendition`; an invalid id is ignored.
  void record(std::string_view session, std::string_view rendition, int64_t now_ms);

  struct Count {
    size_t total = 0;
    std::map<std::string, size_t> by_rendition;
    uint64_t untracked_requests = 0;  // since start, from sessions that found the table full
  };
  // The sessions seen within the window; forgets the older ones.
  Count count(int64_t now_ms);

 private:
  struct Entry {
    int64_t last_ms = 0;
    std::string rendition;
  };
  // Looks ids up by string_view, so a request that finds its session allocates nothing.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Entry, IdHash, std::equal_to<>> sessions;
  };
  static constexpr size_t kShards = 16;
  void expire(Shard& shard, int64_t now_ms) const;

  int64_t window_ms_;
  size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> untracked_{0};
};

}  // namespace relay::health
