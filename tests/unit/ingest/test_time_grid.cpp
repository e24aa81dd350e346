#include <catch2/catch.hpp>

#include "ingest/time_grid.hpp"

using relay::ingest::FrameGrid;
using relay::ingest::SampleGrid;

TEST_CASE("pictures go onto the frame grid and never back") {
  FrameGrid g(30);
  CHECK(g.place(0) == 0);
  CHECK(g.place(33'333'333) == 33'333'333);
  // A branch 7 ms out of phase lands on the nearest slot.
  CHECK(g.place(66'666'667 + 7'000'000) == 66'666'667);
  // A switch brings a picture of a slot already sent, or older: dropped.
  CHECK_FALSE(g.place(66'666'667 - 5'000'000).has_value());
  CHECK_FALSE(g.place(10'000'000).has_value());
  // A late picture skips slots rather than squeezing them.
  CHECK(g.place(200'000'000) == 200'000'000);
  CHECK(g.frame_ns() == 33'333'333);
}

TEST_CASE("frame slots stay exact after hours of pictures") {
  FrameGrid g(30);
  const int64_t ten_hours = int64_t{10} * 3600 * 1'000'000'000;
  CHECK(g.place(ten_hours + 1'000'000) == ten_hours);
  CHECK(g.place(ten_hours + 33'000'000) == ten_hours + 33'333'333);
}

TEST_CASE("sound within 50 ms of the last buffer continues sample-exact") {
  SampleGrid g(48000);
  auto p = g.place(0, 1024);
  REQUIRE(p);
  CHECK(p->pts_ns == 0);
  CHECK(p->skip == 0);
  // Next buffer 3 ms late (another branch's phase): stitched to sample 1024.
  p = g.place(g.duration_ns(1024) + 3'000'000, 1024);
  REQUIRE(p);
  CHECK(p->pts_ns == g.duration_ns(1024));
  CHECK(p->skip == 0);
  // 10 ms early: stitched too (the overlap is under the 50 ms tolerance).
  p = g.place(g.duration_ns(2048) - 10'000'000, 1024);
  REQUIRE(p);
  CHECK(p->pts_ns == g.duration_ns(2048));
}

TEST_CASE("sound that repeats what was sent is cut or dropped; a real gap stays") {
  SampleGrid g(48000);
  REQUIRE(g.place(0, 48000));  // one second sent
  // Entirely old: dropped.
  CHECK_FALSE(g.place(100'000'000, 4800).has_value());
  // Starts 200 ms back and runs 300 ms: the first 200 ms are cut.
  auto p = g.place(800'000'000, 14400);
  REQUIRE(p);
  CHECK(p->skip == 9600);
  CHECK(p->pts_ns == 1'000'000'000);
  // Now at 1.1 s; a buffer at 2 s is a real gap and keeps its time.
  p = g.place(2'000'000'000, 1024);
  REQUIRE(p);
  CHECK(p->pts_ns == 2'000'000'000);
  CHECK(p->skip == 0);
}
