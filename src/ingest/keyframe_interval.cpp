#include "ingest/keyframe_interval.hpp"

#include <algorithm>

namespace relay::ingest {
namespace {

// Reordered pictures step back less than this; a looping file or a restarted
// sender steps back more, and a gap longer than the forward limit is a break in
// the stream, not a long GOP. Either starts the measurement again.
constexpr int64_t kBackwardNs = 1'000'000'000;
constexpr int64_t kForwardNs = 10'000'000'000;

}  // namespace

void KeyframeInterval::add(int64_t ts_ns, bool keyframe) {
  if (newest_ns_ && (ts_ns < *newest_ns_ - kBackwardNs || ts_ns > *newest_ns_ + kForwardNs)) {
    // The interval measured so far stays until the next one is known.
    last_keyframe_ns_.reset();
    newest_ns_.reset();
  }
  newest_ns_ = std::max(newest_ns_.value_or(ts_ns), ts_ns);
  if (!keyframe) return;
  if (last_keyframe_ns_ && ts_ns > *last_keyframe_ns_) interval_ns_ = ts_ns - *last_keyframe_ns_;
  if (!last_keyframe_ns_ || ts_ns > *last_keyframe_ns_) last_keyframe_ns_ = ts_ns;
}

std::optional<double> KeyframeInterval::seconds() const {
  if (!last_keyframe_ns_) {
    if (!interval_ns_) return std::nullopt;
    return *interval_ns_ / 1e9;
  }
  const int64_t open = *newest_ns_ - *last_keyframe_ns_;
  return std::max(interval_ns_.value_or(0), open) / 1e9;
}

}  // namespace relay::ingest
