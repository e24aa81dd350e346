#include <catch2/catch.hpp>

#include "ingest/supervisor.hpp"

using relay::health::IngestState;
using relay::ingest::Decision;
using relay::ingest::InputSample;
using relay::ingest::Output;
using relay::ingest::Supervisor;
using relay::ingest::SupervisorTiming;

namespace {

SupervisorTiming timing() {
  SupervisorTiming t;
  t.input_timeout_ms = 500;
  t.slate_after_ms = 2000;
  t.failback_ms = 5000;
  return t;
}

// Ticks every 100 ms from `from` to `to` (exclusive); an input "delivers" when its
// function says so, and its last frame is then the tick time.
struct Clock {
  int64_t now = 1000;
  int64_t primary_last = 0;
  int64_t backup_last = 0;
};

}  // namespace

TEST_CASE("the primary is on air from the start; an input up at once needs no switch") {
  Supervisor s(timing(), false);
  CHECK(s.output() == Output::primary);
  Decision d = s.tick(1000, {990});
  CHECK(d.output == Output::primary);
  CHECK(d.state == IngestState::live);
  CHECK_FALSE(d.switched);
  CHECK_FALSE(d.input_lost);
}

TEST_CASE("with no input at the first tick the slate goes on, waiting, with no loss counted") {
  Supervisor s(timing(), false);
  Decision d = s.tick(1000, {});
  CHECK(d.output == Output::slate);
  CHECK(d.state == IngestState::waiting);
  CHECK(d.switched);
  CHECK_FALSE(d.input_lost);
  d = s.tick(1100, {});
  CHECK_FALSE(d.switched);
  CHECK(d.state == IngestState::waiting);
}

TEST_CASE("the primary goes on air at its first picture") {
  Supervisor s(timing(), false);
  s.tick(1000, {});
  Decision d = s.tick(1100, {1090});
  CHECK(d.output == Output::primary);
  CHECK(d.state == IngestState::live);
  CHECK(d.switched);
}

TEST_CASE("a lost input holds its last picture, then the slate, and returns at once") {
  Supervisor s(timing(), false);
  Clock c;
  // Live for 3 s.
  for (; c.now < 4000; c.now += 100) {
    c.primary_last = c.now;
    s.tick(c.now, {c.primary_last});
  }
  REQUIRE(s.output() == Output::primary);
  // The input stops at 3900. Up to the timeout nothing changes.
  Decision d = s.tick(4400, {c.primary_last});
  CHECK(d.state == IngestState::live);
  d = s.tick(4500, {c.primary_last});
  CHECK(d.state == IngestState::lost);
  CHECK(d.input_lost);
  CHECK(d.output == Output::primary);  // the frozen last picture
  CHECK_FALSE(d.switched);
  // One loss event, not one per tick.
  d = s.tick(4600, {c.primary_last});
  CHECK_FALSE(d.input_lost);
  CHECK(d.state == IngestState::lost);
  d = s.tick(6400, {c.primary_last});
  CHECK(d.state == IngestState::lost);
  d = s.tick(6500, {c.primary_last});
  CHECK(d.state == IngestState::slate);
  CHECK(d.output == Output::slate);
  CHECK(d.switched);
  d = s.tick(20000, {c.primary_last});
  CHECK(d.state == IngestState::slate);
  CHECK_FALSE(d.switched);
  // The first new picture puts the primary back.
  d = s.tick(20100, {20080});
  CHECK(d.output == Output::primary);
  CHECK(d.state == IngestState::live);
  CHECK(d.switched);
  // And a second loss is a second event.
  d = s.tick(21000, {20080});
  CHECK(d.input_lost);
}

TEST_CASE("slate_after 0 shows the slate as soon as the input is lost") {
  auto t = timing();
  t.slate_after_ms = 0;
  Supervisor s(t, false);
  s.tick(1000, {1000});
  Decision d = s.tick(1600, {1000});
  CHECK(d.output == Output::slate);
  CHECK(d.state == IngestState::slate);
  CHECK(d.input_lost);
}

TEST_CASE("the backup takes over at once and hands back after the primary is up for failback") {
  Supervisor s(timing(), true);
  s.tick(1000, {1000}, {1000});
  REQUIRE(s.output() == Output::primary);
  // Primary lost at 1000; backup keeps going.
  Decision d = s.tick(1600, {1000}, {1600});
  CHECK(d.output == Output::backup);
  CHECK(d.state == IngestState::backup);
  CHECK(d.input_lost);
  CHECK(d.switched);
  // The primary comes back at 3000 but must prove itself for 5 s.
  for (int64_t now = 3000; now < 8000; now += 100) {
    d = s.tick(now, {now}, {now});
    INFO(now);
    CHECK(d.output == Output::backup);
  }
  d = s.tick(8000, {8000}, {8000});
  CHECK(d.output == Output::primary);
  CHECK(d.state == IngestState::live);
  CHECK(d.switched);
}

TEST_CASE("a flapping primary restarts its failback wait") {
  Supervisor s(timing(), true);
  s.tick(1000, {1000}, {1000});
  s.tick(1600, {1000}, {1600});
  REQUIRE(s.output() == Output::backup);
  s.tick(2000, {2000}, {2000});   // up at 2000
  s.tick(4000, {3000}, {4000});   // down again (last picture 3000)
  s.tick(4100, {4100}, {4100});   // up again at 4100
  Decision d = s.tick(7500, {7500}, {7500});
  CHECK(d.output == Output::backup);  // 2000 + 5000 would have passed, 4100 + 5000 has not
  d = s.tick(9100, {9100}, {9100});
  CHECK(d.output == Output::primary);
}

TEST_CASE("with both inputs lost the backup's last picture holds, then the slate; the first to return wins") {
  Supervisor s(timing(), true);
  s.tick(1000, {1000}, {1000});
  s.tick(1600, {1000}, {1600});
  REQUIRE(s.output() == Output::backup);
  Decision d = s.tick(2200, {1000}, {1600});
  CHECK(d.state == IngestState::lost);
  CHECK(d.input_lost);
  CHECK(d.output == Output::backup);
  d = s.tick(4200, {1000}, {1600});
  CHECK(d.output == Output::slate);
  CHECK(d.state == IngestState::slate);
  // The backup returns first: it goes on air at once (no failback wait from the slate).
  d = s.tick(5000, {1000}, {5000});
  CHECK(d.output == Output::backup);
  CHECK(d.state == IngestState::backup);
}

TEST_CASE("when the backup dies while the primary is proving itself, the primary goes on air") {
  Supervisor s(timing(), true);
  s.tick(1000, {1000}, {1000});
  s.tick(1600, {1000}, {1600});
  s.tick(2000, {2000}, {2000});
  Decision d = s.tick(3000, {3000}, {2000});
  CHECK(d.output == Output::primary);
  CHECK(d.state == IngestState::live);
}

TEST_CASE("a file that ended reports ended on the slate") {
  Supervisor s(timing(), false);
  s.tick(1000, {1000});
  Decision d = s.tick(1100, {1000, true});
  CHECK(d.state == IngestState::lost);
  d = s.tick(3200, {1000, true});
  CHECK(d.output == Output::slate);
  CHECK(d.state == IngestState::ended);
}

TEST_CASE("a backup alone brings the stream up, at start or from waiting") {
  Supervisor s(timing(), true);
  Decision d = s.tick(1000, {}, {990});
  CHECK(d.output == Output::backup);
  CHECK(d.state == IngestState::backup);
  CHECK_FALSE(d.input_lost);

  Supervisor later(timing(), true);
  later.tick(1000, {}, {});
  d = later.tick(2000, {}, {1990});
  CHECK(d.output == Output::backup);
  CHECK_FALSE(d.input_lost);
}
