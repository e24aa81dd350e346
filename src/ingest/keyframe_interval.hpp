#pragma once
// How far apart the keyframes of the compressed input are, measured on the access
// units going into its decoder, in the stream's own time. A long interval makes an
// input slow to recover from packet loss and slow to start after a reconnect, so
// the technician wants to see it before the encoder operator leaves the hall.
// Plain arithmetic on nanoseconds, tested directly; the source applies it in a pad probe.
#include <cstdint>
#include <optional>

namespace relay::ingest {

class KeyframeInterval {
 public:
  // One access unit, in decode order: its timestamp and whether it is a keyframe.
  void add(int64_t ts_ns, bool keyframe);
  // Seconds between the newest two keyframes, or since the newest one when that is
  // longer (a sender that stopped sending keyframes); nothing before the first one.
  std::optional<double> seconds() const;

 private:
  std::optional<int64_t> last_keyframe_ns_;
  std::optional<int64_t> newest_ns_;
  std::optional<int64_t> interval_ns_;
};

}  // namespace relay::ingest
