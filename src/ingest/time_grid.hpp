#pragma once
// Keeps the ladder's time regular across input switches. The branches behind the
// selectors (primary, backup, slate) run on one clock but in different phases, and
// a switch can bring a picture or sound older than what was already sent. Plain
// arithmetic on nanoseconds, tested directly; the ingest applies it in pad probes.
#include <cstdint>
#include <optional>

namespace relay::ingest {

// Pictures go onto the frame grid (slot n at n / fps seconds); a picture whose slot
// was already sent is dropped, so time moves forward by whole frames only.
class FrameGrid {
 public:
  explicit FrameGrid(int fps) : fps_(fps) {}
  // The time to give a picture stamped `pts_ns`, or nothing to drop it.
  std::optional<int64_t> place(int64_t pts_ns);
  int64_t frame_ns() const { return time_of(1); }

 private:
  int64_t time_of(int64_t slot) const;
  int fps_;
  int64_t last_slot_ = -1;
};

// Sound continues sample-exact from what was sent when a buffer starts within
// `stitch` samples of it (50 ms); what repeats sound already sent is cut off; a
// longer real gap is kept.
class SampleGrid {
 public:
  explicit SampleGrid(int rate) : rate_(rate) {}
  struct Placement {
    int64_t pts_ns;    // the buffer's new time
    int64_t skip;      // samples to cut from its start
  };
  // For a buffer stamped `pts_ns` holding `count` samples; nothing to drop it whole.
  std::optional<Placement> place(int64_t pts_ns, int64_t count);
  int64_t duration_ns(int64_t count) const;

 private:
  int rate_;
  int64_t next_ = -1;  // the sample index the next buffer should start at
};

}  // namespace relay::ingest
