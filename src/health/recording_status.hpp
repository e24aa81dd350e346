#pragma once
// What the recorder (recording/recorder) reports, for /metrics.
#include <cstdint>
#include <optional>

namespace relay::health {

struct RecordingStatus {
  bool active = false;            // writing segments now
  uint64_t bytes = 0;             // media bytes written since start-up
  uint64_t segments = 0;
  uint64_t dropped = 0;           // segments the writer could not keep up with
  std::optional<uint64_t> disk_free_bytes;
  std::optional<int64_t> oldest_event_epoch_ms;  // when the oldest event kept began
};

}  // namespace relay::health
