#include "health/alerts.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace relay::health {
namespace {

// In the order of kAlertRuleNames.
enum RuleIndex {
  kInputLost,
  kBitrate,
  kFramerate,
  kKeyframeInterval,
  kSegmentLate,
  kRealtime,
  kAudioSilent,
  kViewerStalls,
  kInterpreterLost,
  kRecordingDiskLow,
  kRecordingStopped,
  kRuleCount
};
static_assert(std::size(kAlertRuleNames) == kRuleCount);

int64_t hold_ms(double s) { return static_cast<int64_t>(std::llround(s * 1000)); }

}  // namespace

AlertRules::AlertRules(const config::HealthConfig& health, double segment_duration_s)
    : segment_duration_s_(segment_duration_s) {
  rules_.resize(kRuleCount);
  for (size_t i = 0; i < kRuleCount; ++i) rules_[i].name = kAlertRuleNames[i];
  reconfigure(health);
}

void AlertRules::reconfigure(const config::HealthConfig& health) {
  cfg_ = health;
  const double holds[kRuleCount] = {cfg_.input_lost_hold_s,   cfg_.input_bitrate_hold_s,
                                    cfg_.input_framerate_hold_s, cfg_.input_keyframe_interval_hold_s,
                                    cfg_.segment_late_hold_s,  cfg_.realtime_hold_s,
                                    cfg_.audio_silence_hold_s, cfg_.viewer_stalls_hold_s,
                                    cfg_.input_lost_hold_s,
                                    // The recorder measures before each segment and decides itself: no hold.
                                    0,
                                    0};
  for (size_t i = 0; i < kRuleCount; ++i) rules_[i].hold_s = holds[i];
}

std::vector<AlertEvent> AlertRules::evaluate(const HealthSample& s) {
  std::vector<AlertEvent> events;
  using State = IngestState;
  const State state = s.ingest_state;
  const bool no_input = state == State::waiting || state == State::lost || state == State::slate ||
                        state == State::ended || state == State::failed;
  // Bitrate and frame rate describe an input that is there; a lost one is input_lost's.
  const bool on_air = state == State::live || state == State::backup;

  std::optional<std::string> input_lost;
  if (no_input) input_lost = fmt::format("no input on air (ingest {})", to_string(state));
  step(rules_[kInputLost], input_lost, s.now_ms, events);

  std::optional<std::string> bitrate;
  if (on_air && s.input_bitrate_kbps &&
      (*s.input_bitrate_kbps < cfg_.input_bitrate_min_kbps || *s.input_bitrate_kbps > cfg_.input_bitrate_max_kbps))
    bitrate = fmt::format("input bitrate {:.0f} kbit/s is outside {:.0f}..{:.0f}", *s.input_bitrate_kbps,
                          cfg_.input_bitrate_min_kbps, cfg_.input_bitrate_max_kbps);
  step(rules_[kBitrate], bitrate, s.now_ms, events);

  std::optional<std::string> framerate;
  if (on_air && cfg_.input_framerate_min > 0 && s.input_framerate && *s.input_framerate < cfg_.input_framerate_min)
    framerate = fmt::format("input frame rate {:.1f} is below {:.1f}", *s.input_framerate, cfg_.input_framerate_min);
  step(rules_[kFramerate], framerate, s.now_ms, events);

  std::optional<std::string> keyframes;
  if (on_air && cfg_.input_keyframe_interval_max_s > 0 && s.input_keyframe_interval_s &&
      *s.input_keyframe_interval_s > cfg_.input_keyframe_interval_max_s)
    keyframes = fmt::format("input keyframes {:.1f} s apart, more than {:.1f} s", *s.input_keyframe_interval_s,
                            cfg_.input_keyframe_interval_max_s);
  step(rules_[kKeyframeInterval], keyframes, s.now_ms, events);

  std::optional<std::string> late;
  std::optional<std::string> slow;
  const double late_after_s = cfg_.segment_late_factor * segment_duration_s_;
  for (const auto& r : s.renditions) {
    if (!late && r.last_segment_age_s && *r.last_segment_age_s > late_after_s)
      late = fmt::format("{}: newest segment is {:.1f} s old (limit {:.1f} s)", r.name, *r.last_segment_age_s,
                         late_after_s);
    if (!slow && r.realtime_factor && *r.realtime_factor < cfg_.realtime_factor_min)
      slow = fmt::format("{}: encoding at {:.2f} x realtime (minimum {:.2f})", r.name, *r.realtime_factor,
                         cfg_.realtime_factor_min);
  }
  step(rules_[kSegmentLate], late, s.now_ms, events);
  step(rules_[kRealtime], slow, s.now_ms, events);

  // The slate is silent on purpose; input_lost speaks for it.
  std::optional<std::string> silent;
  if (on_air && s.audio_rms_db && *s.audio_rms_db < cfg_.audio_silence_db)
    silent = fmt::format("programme sound at {:.0f} dBFS, below {:.0f}", std::max(-200.0, *s.audio_rms_db),
                         cfg_.audio_silence_db);
  step(rules_[kAudioSilent], silent, s.now_ms, events);

  std::optional<std::string> stalls;
  if (cfg_.viewer_stalls_per_minute_max > 0 && s.stalls_per_viewer_minute &&
      *s.stalls_per_viewer_minute > cfg_.viewer_stalls_per_minute_max)
    stalls = fmt::format("viewers stall {:.1f} times a minute (limit {:.1f})", *s.stalls_per_viewer_minute,
                         cfg_.viewer_stalls_per_minute_max);
  step(rules_[kViewerStalls], stalls, s.now_ms, events);

  // The track carries silence meanwhile; video and the floor sound are not affected.
  std::optional<std::string> interpreter;
  if (!s.silent_audio_tracks.empty())
    interpreter = fmt::format("audio track input lost, the track is silent: {}", fmt::join(s.silent_audio_tracks, ", "));
  step(rules_[kInterpreterLost], interpreter, s.now_ms, events);
  step(rules_[kRecordingDiskLow], s.recording_disk_low, s.now_ms, events);
  step(rules_[kRecordingStopped], s.recording_stopped, s.now_ms, events);
  return events;
}

void AlertRules::step(Rule& rule, std::optional<std::string> condition, int64_t now_ms,
                      std::vector<AlertEvent>& events) {
  if (condition) {
    rule.false_since_ms = 0;
    if (!rule.true_since_ms) rule.true_since_ms = now_ms;
    rule.message = std::move(*condition);
    if (!rule.firing && now_ms - rule.true_since_ms >= hold_ms(rule.hold_s)) {
      rule.firing = true;
      rule.fired_at_ms = now_ms;
      events.push_back({rule.name, true, now_ms, now_ms, rule.message});
    }
    return;
  }
  rule.true_since_ms = 0;
  if (!rule.firing) return;
  if (!rule.false_since_ms) rule.false_since_ms = now_ms;
  if (now_ms - rule.false_since_ms >= hold_ms(rule.hold_s)) {
    rule.firing = false;
    rule.false_since_ms = 0;
    events.push_back({rule.name, false, now_ms, rule.fired_at_ms, rule.message});
  }
}

std::vector<ActiveAlert> AlertRules::active() const {
  std::vector<ActiveAlert> out;
  for (const auto& r : rules_) {
    if (r.firing) out.push_back({r.name, r.fired_at_ms, r.message});
  }
  return out;
}

}  // namespace relay::health
