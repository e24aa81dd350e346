#pragma once
// Token buckets keyed by a string (an attendee id, a client address): `burst`
// tokens at most, refilled at `per_minute`. Time is passed in, so tests need no
// sleeping. Not thread-safe; the owner locks.
#include <cstdint>
#include <string>
#include <unordered_map>

namespace relay::qa {

class RateLimiter {
 public:
  RateLimiter(double per_minute, int burst) : per_ms_(per_minute / 60000.0), burst_(burst) {}

  // Takes one token for `key` at `now_ms`. Returns 0 when allowed, otherwise the
  // milliseconds until a token will be there (nothing is taken then).
  int64_t take(const std::string& key, int64_t now_ms);
  // Forgets buckets that have refilled completely, so the map does not grow forever.
  void prune(int64_t now_ms);
  size_t size() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  double refill(Bucket& bucket, int64_t now_ms) const;

  double per_ms_;
  int burst_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace relay::qa
