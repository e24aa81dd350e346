#include "ingest/time_grid.hpp"

#include <cstdlib>

namespace relay::ingest {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

// a * b / c rounded to nearest, without overflow for stream times (a < 2^63 / b
// is not guaranteed, so split a into whole seconds and the rest).
int64_t scale_round(int64_t a, int64_t b, int64_t c) {
  const int64_t whole = a / c;
  const int64_t rest = a % c;
  return whole * b + (rest * b + c / 2) / c;
}

}  // namespace

int64_t FrameGrid::time_of(int64_t slot) const { return scale_round(slot, kSecond, fps_); }

std::optional<int64_t> FrameGrid::place(int64_t pts_ns) {
  const int64_t slot = scale_round(pts_ns, fps_, kSecond);
  if (slot <= last_slot_) return std::nullopt;
  last_slot_ = slot;
  return time_of(slot);
}

int64_t SampleGrid::duration_ns(int64_t count) const { return scale_round(count, kSecond, rate_); }

std::optional<SampleGrid::Placement> SampleGrid::place(int64_t pts_ns, int64_t count) {
  int64_t start = scale_round(pts_ns, rate_, kSecond);
  int64_t skip = 0;
  const int64_t stitch = rate_ / 20;
  if (next_ >= 0) {
    if (start + count <= next_) return std::nullopt;
    if (start < next_ && next_ - start > stitch) {
      skip = next_ - start;
      start = next_;
    } else if (std::abs(start - next_) <= stitch) {
      start = next_;
    }
  }
  next_ = start + count - skip;
  return Placement{scale_round(start, kSecond, rate_), skip};
}

}  // namespace relay::ingest
