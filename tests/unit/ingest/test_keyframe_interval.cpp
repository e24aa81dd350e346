#include <catch2/catch.hpp>

#include "ingest/keyframe_interval.hpp"

using relay::ingest::KeyframeInterval;

namespace {

constexpr int64_t kMs = 1'000'000;

// Access units at 25 fps from `from_ms` for `frames`, a keyframe every `gop` frames.
void feed(KeyframeInterval& k, int64_t from_ms, int frames, int gop) {
  for (int i = 0; i < frames; ++i) k.add((from_ms + i * 40) * kMs, i % gop == 0);
}

}  // namespace

TEST_CASE("nothing is known before the first keyframe; raw or joined mid-GOP", "[keyframes]") {
  KeyframeInterval k;
  CHECK_FALSE(k.seconds());
  k.add(0, false);
  k.add(40 * kMs, false);
  CHECK_FALSE(k.seconds());
}

TEST_CASE("the interval of a steady GOP is its length, at every frame", "[keyframes]") {
  KeyframeInterval k;
  feed(k, 0, 50, 50);  // one keyframe, then 49 frames: the time since it
  REQUIRE(k.seconds());
  CHECK(*k.seconds() == Approx(1.96));
  feed(k, 2000, 200, 50);  // a keyframe every 2 s from here; 1.96 s since the newest
  CHECK(*k.seconds() == Approx(2.0));
}

TEST_CASE("a sender that stops sending keyframes shows the time since the newest one", "[keyframes]") {
  KeyframeInterval k;
  feed(k, 0, 100, 50);          // 2 s GOP
  feed(k, 4000, 250, 100000);   // one keyframe at 4 s, then 10 s without
  CHECK(*k.seconds() == Approx(9.96));
}

TEST_CASE("reordered pictures do not disturb it; a restart of time does not make a huge interval", "[keyframes]") {
  KeyframeInterval k;
  // I P B B: the B pictures step back a little in presentation time.
  for (int gop = 0; gop < 3; ++gop) {
    const int64_t base = gop * 2000;
    k.add(base * kMs, true);
    for (int i = 1; i < 48; ++i) k.add((base + i * 40 + (i % 3 == 1 ? 80 : -40)) * kMs, false);
  }
  CHECK(*k.seconds() == Approx(2.0));
  // A file loops: time starts at 0 again. The old interval stays until a new one is measured.
  k.add(0, true);
  CHECK(*k.seconds() == Approx(2.0));
  feed(k, 2000, 100, 50);  // keyframes at 2 and 4 s after the one at 0
  CHECK(*k.seconds() == Approx(2.0));
  // A jump forward of a minute is a break in the stream, not a minute-long GOP.
  k.add(70'000 * kMs, true);
  k.add(70'040 * kMs, false);
  CHECK(*k.seconds() == Approx(2.0));
  k.add(71'000 * kMs, true);
  CHECK(*k.seconds() == Approx(1.0));
}
