#include <algorithm>
#include <limits>

#include <catch2/catch.hpp>

#include "health/alerts.hpp"

using namespace relay::health;
using relay::config::HealthConfig;

namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

HealthConfig rules_config() {
  HealthConfig c;
  c.input_lost_hold_s = 2;
  c.input_bitrate_min_kbps = 500;
  c.input_bitrate_max_kbps = 5000;
  c.input_bitrate_hold_s = 3;
  c.input_framerate_min = 24;
  c.input_framerate_hold_s = 1;
  c.segment_late_factor = 2;
  c.segment_late_hold_s = 0;
  c.realtime_factor_min = 0.95;
  c.realtime_hold_s = 4;
  return c;
}

HealthSample healthy(int64_t t) {
  HealthSample s;
  s.now_ms = kT0 + t;
  s.ingest_state = IngestState::live;
  s.input_bitrate_kbps = 2000;
  s.input_framerate = 30;
  s.renditions = {{"720p", 0.5, 1.0}, {"360p", 0.6, 1.0}};
  return s;
}

// Feeds one sample every 250 ms from `from` to `to` (ms after kT0), built by
// `make`, and returns every event seen.
template <typename Make>
std::vector<AlertEvent> run(AlertRules& rules, int64_t from, int64_t to, Make make) {
  std::vector<AlertEvent> events;
  for (int64_t t = from; t <= to; t += 250) {
    for (auto& e : rules.evaluate(make(t))) events.push_back(e);
  }
  return events;
}

}  // namespace

TEST_CASE("a healthy stream raises nothing", "[alerts]") {
  AlertRules rules(rules_config(), 2.0);
  CHECK(run(rules, 0, 60000, healthy).empty());
  CHECK(rules.active().empty());
}

TEST_CASE("input lost fires after its hold and resolves after the same hold", "[alerts]") {
  AlertRules rules(rules_config(), 2.0);
  auto lost_between = [](int64_t from, int64_t to) {
    return [=](int64_t t) {
      HealthSample s = healthy(t);
      if (t >= from && t < to) s.ingest_state = t < from + 1000 ? IngestState::lost : IngestState::slate;
      return s;
    };
  };
  // Lost for 1.5 s: shorter than the hold, so nothing.
  CHECK(run(rules, 0, 10000, lost_between(1000, 2500)).empty());

  AlertRules fresh(rules_config(), 2.0);
  auto events = run(fresh, 0, 20000, lost_between(1000, 9000));
  REQUIRE(events.size() == 2);
  CHECK(events[0].rule == "input_lost");
  CHECK(events[0].firing);
  CHECK(events[0].at_ms == kT0 + 3000);
  CHECK(events[0].message == "no input on air (ingest slate)");
  CHECK_FALSE(events[1].firing);
  CHECK(events[1].at_ms == kT0 + 11000);
  CHECK(events[1].fired_at_ms == kT0 + 3000);
}

TEST_CASE("a flapping input does not resolve the alert", "[alerts]") {
  AlertRules rules(rules_config(), 2.0);
  auto events = run(rules, 0, 8000, [](int64_t t) {
    HealthSample s = healthy(t);
    // Lost from 0 to 4 s, then back for 1 s at a time between losses of 0.5 s.
    if (t < 4000 || (t >= 5000 && t < 5500) || (t >= 6500 && t < 7000)) s.ingest_state = IngestState::waiting;
    return s;
  });
  REQUIRE(events.size() == 1);
  CHECK(events[0].firing);
  CHECK(rules.active().size() == 1);
  CHECK(rules.active()[0].since_ms == kT0 + 2000);
}

TEST_CASE("bitrate outside the range fires, inside it resolves; a lost input is not a bitrate problem", "[alerts]") {
  AlertRules rules(rules_config(), 2.0);
  auto events = run(rules, 0, 20000, [](int64_t t) {
    HealthSample s = healthy(t);
    if (t >= 1000 && t < 6000) s.input_bitrate_kbps = 200;
    if (t >= 10000 && t < 12000) s.input_bitrate_kbps = 9000;  // 2 s: under the 3 s hold
    return s;
  });
  REQUIRE(events.size() == 2);
  CHECK(events[0].rule == "input_bitrate");
  CHECK(events[0].at_ms == kT0 + 4000);
  CHECK(events[0].message == "input bitrate 200 kbit/s is outside 500..5000");
  CHECK(events[1].at_ms == kT0 + 9000);
  CHECK_FALSE(events[1].firing);

  AlertRules lost(rules_config(), 2.0);
  auto only_lost = run(lost, 0, 10000, [](int64_t t) {
    HealthSample s = healthy(t);
    s.ingest_state = IngestState::slate;
    s.input_bitrate_kbps = 0;
    s.input_framerate = 0;
    return s;
  });
  REQUIRE(only_lost.size() == 1);
  CHECK(only_lost[0].rule == "input_lost");
}

TEST_CASE("a low frame rate fires after its hold; 0 turns the rule off", "[alerts]") {
  auto low = [](int64_t t) {
    HealthSample s = healthy(t);
    if (t >= 1000) s.input_framerate = 12.5;
    return s;
  };
  AlertRules rules(rules_config(), 2.0);
  auto events = run(rules, 0, 5000, low);
  REQUIRE(events.size() == 1);
  CHECK(events[0].rule == "input_framerate");
  CHECK(events[0].at_ms == kT0 + 2000);
  CHECK(events[0].message == "input frame rate 12.5 is below 24.0");

  HealthConfig off = rules_config();
  off.input_framerate_min = 0;
  AlertRules none(off, 2.0);
  CHECK(run(none, 0, 5000, low).empty());
}

TEST_CASE("input keyframes too far apart fire after the hold and resolve after it; raw inputs never fire",
          "[alerts]") {
  HealthConfig cfg = rules_config();
  cfg.input_keyframe_interval_max_s = 4;
  cfg.input_keyframe_interval_hold_s = 3;
  // A sender with a 2 s GOP switches to a 10 s GOP at 1 s (the figure climbs as the
  // time since the newest keyframe), and back to 2 s at 12 s.
  auto long_gop = [](int64_t t) {
    HealthSample s = healthy(t);
    s.input_keyframe_interval_s = 2.0;
    if (t >= 1000 && t < 12000) s.input_keyframe_interval_s = std::max(2.0, (t - 1000) / 1000.0);
    return s;
  };
  AlertRules rules(cfg, 2.0);
  auto events = run(rules, 0, 10000, long_gop);
  REQUIRE(events.size() == 1);
  CHECK(events[0].rule == "keyframe_interval");
  CHECK(events[0].firing);
  // Above 4 s from 5.25 s on; held for 3 s.
  CHECK(events[0].at_ms == kT0 + 8250);
  CHECK(events[0].message == "input keyframes 7.2 s apart, more than 4.0 s");
  REQUIRE(rules.active().size() == 1);
  CHECK(rules.active()[0].rule == "keyframe_interval");
  // Below the limit from 12 s on; resolved once that has held for 3 s.
  events = run(rules, 10250, 20000, long_gop);
  REQUIRE(events.size() == 1);
  CHECK_FALSE(events[0].firing);
  CHECK(events[0].at_ms == kT0 + 15000);
  CHECK(events[0].fired_at_ms == kT0 + 8250);
  CHECK(rules.active().empty());

  // Shorter than the hold above the limit: nothing.
  AlertRules brief(cfg, 2.0);
  CHECK(run(brief, 0, 20000, [](int64_t t) {
          HealthSample s = healthy(t);
          s.input_keyframe_interval_s = t >= 1000 && t < 3500 ? 6.0 : 2.0;
          return s;
        }).empty());

  // A raw input (test:, raw v4l2) has no keyframes; a lost input is input_lost's; 0 is off.
  AlertRules raw(cfg, 2.0);
  CHECK(run(raw, 0, 20000, healthy).empty());
  AlertRules lost(cfg, 2.0);
  auto only_lost = run(lost, 0, 20000, [&](int64_t t) {
    HealthSample s = long_gop(t);
    s.ingest_state = IngestState::lost;
    return s;
  });
  REQUIRE(only_lost.size() == 1);
  CHECK(only_lost[0].rule == "input_lost");
  cfg.input_keyframe_interval_max_s = 0;
  AlertRules off(cfg, 2.0);
  CHECK(run(off, 0, 20000, long_gop).empty());
}

TEST_CASE("a segment later than factor x target fires at once and resolves with the next segment", "[alerts]") {
  AlertRules rules(rules_config(), 2.0);
  auto events = run(rules, 0, 10000, [](int64_t t) {
    HealthSample s = healthy(t);
    // The 360p encoder stalls from 1 s to 6 s: its newest segment ages.
    if (t >= 1000 && t < 6000) s.renditions[1].last_segment_age_s = (t - 900) / 1000.0;
    return s;
  });
  REQUIRE(events.size() == 2);
  CHECK(events[0].rule == "segment_late");
  CHECK(events[0].at_ms == kT0 + 5000);  // the first sample above 4 s
  CHECK(events[0].message == "360p: newest segment is 4.1 s old (limit 4.0 s)");
  CHECK(events[1].at_ms == kT0 + 6000);
}

TEST_CASE("a realtime factor below the minimum fires after its hold; unknown never fires", "[alerts]") {
  AlertRules rules(rules_config(), 2.0);
  auto events = run(rules, 0, 20000, [](int64_t t) {
    HealthSample s = healthy(t);
    if (t >= 2000 && t < 12000) s.renditions[0].realtime_factor = 0.8;
    if (t >= 15000) s.renditions[0].realtime_factor.reset();
    return s;
  });
  REQUIRE(events.size() == 2);
  CHECK(events[0].rule == "realtime_factor");
  CHECK(events[0].at_ms == kT0 + 6000);
  CHECK(events[0].message == "720p: encoding at 0.80 x realtime (minimum 0.95)");
  CHECK(events[1].at_ms == kT0 + 16000);
}

TEST_CASE("silent programme sound fires while an input is on air, not on the slate", "[alerts]") {
  HealthConfig cfg = rules_config();
  cfg.audio_silence_db = -60;
  cfg.audio_silence_hold_s = 2;
  AlertRules rules(cfg, 2.0);
  auto events = run(rules, 0, 12000, [](int64_t t) {
    HealthSample s = healthy(t);
    s.audio_rms_db = -20;
    if (t >= 1000 && t < 6000) s.audio_rms_db = -75;
    return s;
  });
  REQUIRE(events.size() == 2);
  CHECK(events[0].rule == "audio_silent");
  CHECK(events[0].at_ms == kT0 + 3000);
  CHECK(events[0].message == "programme sound at -75 dBFS, below -60");
  CHECK(events[1].at_ms == kT0 + 8000);

  // Digital silence is -inf dB; on the slate it is expected.
  AlertRules slate(cfg, 2.0);
  auto lost = run(slate, 0, 12000, [](int64_t t) {
    HealthSample s = healthy(t);
    s.ingest_state = IngestState::slate;
    s.audio_rms_db = -std::numeric_limits<double>::infinity();
    return s;
  });
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].rule == "input_lost");
}

TEST_CASE("viewers stalling more than the limit fires after its hold; 0 turns it off", "[alerts]") {
  HealthConfig cfg = rules_config();
  cfg.viewer_stalls_per_minute_max = 1;
  cfg.viewer_stalls_hold_s = 5;
  auto stalling = [](int64_t t) {
    HealthSample s = healthy(t);
    if (t >= 1000 && t < 10000) s.stalls_per_viewer_minute = 2.5;
    if (t >= 10000) s.stalls_per_viewer_minute = 0.5;
    return s;
  };
  AlertRules rules(cfg, 2.0);
  auto events = run(rules, 0, 20000, stalling);
  REQUIRE(events.size() == 2);
  CHECK(events[0].rule == "viewer_stalls");
  CHECK(events[0].at_ms == kT0 + 6000);
  CHECK(events[0].message == "viewers stall 2.5 times a minute (limit 1.0)");
  CHECK(events[1].at_ms == kT0 + 15000);

  cfg.viewer_stalls_per_minute_max = 0;
  AlertRules off(cfg, 2.0);
  CHECK(run(off, 0, 20000, stalling).empty());
}

TEST_CASE("the input on air is found by output, or by state before the output is reported", "[alerts]") {
  IngestSnapshot s;
  InputInfo primary, backup;
  primary.role = "primary";
  backup.role = "backup";
  s.inputs = {primary, backup};
  s.state = IngestState::live;
  s.output = "slate";
  REQUIRE(on_air_input(s));
  CHECK(on_air_input(s)->role == "primary");
  s.state = IngestState::backup;
  CHECK(on_air_input(s)->role == "backup");
  s.state = IngestState::slate;
  CHECK_FALSE(on_air_input(s));
  s.state = IngestState::lost;
  s.output = "primary";
  CHECK(on_air_input(s)->role == "primary");
}

TEST_CASE("a lost interpreter input fires interpreter_lost naming the track, and resolves by itself", "[alerts]") {
  HealthConfig cfg = rules_config();  // input_lost_hold_s = 2 holds this rule too
  AlertRules rules(cfg, 2.0);
  auto events = run(rules, 0, 12000, [](int64_t t) {
    HealthSample s = healthy(t);
    if (t >= 1000 && t < 6000) s.silent_audio_tracks = {"English (interpretation)"};
    return s;
  });
  // The video input stays on air: only the track's rule fires.
  REQUIRE(events.size() == 2);
  CHECK(events[0].rule == "interpreter_lost");
  CHECK(events[0].firing);
  CHECK(events[0].at_ms == kT0 + 3000);
  CHECK(events[0].message == "audio track input lost, the track is silent: English (interpretation)");
  CHECK_FALSE(events[1].firing);
  CHECK(events[1].at_ms == kT0 + 8000);
}

TEST_CASE("the recorder's disk and stop reasons fire their alerts at once and resolve with them", "[alerts]") {
  AlertRules rules(rules_config(), 2.0);
  auto events = run(rules, 0, 6000, [](int64_t t) {
    HealthSample s = healthy(t);
    if (t >= 1000 && t < 3000) s.recording_disk_low = "300 MB free on the recording disk";
    if (t >= 2000 && t < 4000) s.recording_stopped = "recording stopped (disk_full): no space";
    return s;
  });
  // No hold: the recorder measured before deciding.
  REQUIRE(events.size() == 4);
  CHECK(events[0].rule == "recording_disk_low");
  CHECK(events[0].firing);
  CHECK(events[0].at_ms == kT0 + 1000);
  CHECK(events[0].message == "300 MB free on the recording disk");
  CHECK(events[1].rule == "recording_stopped");
  CHECK(events[1].at_ms == kT0 + 2000);
  CHECK(events[2].rule == "recording_disk_low");
  CHECK_FALSE(events[2].firing);
  CHECK(events[3].rule == "recording_stopped");
  CHECK_FALSE(events[3].firing);
  CHECK(events[3].at_ms == kT0 + 4000);
}
