#include "qa/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace relay::qa {

double RateLimiter::refill(Bucket& bucket, int64_t now_ms) const {
  if (now_ms > bucket.updated_ms) {
    bucket.tokens = std::min<double>(burst_, bucket.tokens + (now_ms - bucket.updated_ms) * per_ms_);
    bucket.updated_ms = now_ms;
  }
  return bucket.tokens;
}

int64_t RateLimiter::take(const std::string& key, int64_t now_ms) {
  auto [it, fresh] = buckets_.try_emplace(key);
  Bucket& bucket = it->second;
  if (fresh) {
    bucket.tokens = burst_;
    bucket.updated_ms = now_ms;
  }
  if (refill(bucket, now_ms) >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  if (per_ms_ <= 0) return INT64_MAX / 2;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - bucket.tokens) / per_ms_)));
}

void RateLimiter::prune(int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    if (refill(it->second, now_ms) >= burst_) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace relay::qa
