#pragma once
// Alert rules over the health samples the edge takes a few times a second. Plain
// C++ with time passed in, so every rule is tested on synthetic series. A rule
// fires when its condition has held for the rule's hold time, and resolves when
// the condition has been gone for as long, so a flapping signal does not page
// the technician on every flap.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "health/ingest_status.hpp"

namespace relay::health {

inline constexpr const char* kAlertRuleNames[] = {"input_lost",      "input_bitrate", "input_framerate",
                                                  "keyframe_interval", "segment_late",  "realtime_factor",
                                                  "audio_silent",    "viewer_stalls", "interpreter_lost",
                                                  "recording_disk_low", "recording_stopped"};

// One look at the stream. Absent values are unknown and never fire a rule.
struct HealthSample {
  int64_t now_ms = 0;  // wall clock, Unix epoch
  IngestState ingest_state = IngestState::starting;
  std::optional<double> input_bitrate_kbps;  // of the input on air
  std::optional<double> input_framerate;
  std::optional<double> input_keyframe_interval_s;  // absent for raw inputs
  std::optional<double> audio_rms_db;  // the loudest channel of the programme sound, recently
  std::optional<double> stalls_per_viewer_minute;  // absent without viewers
  // [[audio]] tracks whose input is lost or has not connected (their names).
  std::vector<std::string> silent_audio_tracks;
  // The recording (docs/recording.md): why the disk is low, or why it stopped
  // by itself (a full disk, a failed write); absent when all is well.
  std::optional<std::string> recording_disk_low;
  std::optional<std::string> recording_stopped;
  // Per rendition: age of the newest segment; absent before the first one.
  struct Rendition {
    std::string name;
    std::optional<double> last_segment_age_s;
    std::optional<double> realtime_factor;
  };
  std::vector<Rendition> renditions;
};

struct AlertEvent {
  std::string rule;    // one of kAlertRuleNames
  bool firing = true;  // false: resolved
  int64_t at_ms = 0;   // when it fired or resolved
  int64_t fired_at_ms = 0;
  std::string message;  // what a technician reads, with the values that fired it
};

struct ActiveAlert {
  std::string rule;
  int64_t since_ms = 0;
  std::string message;
};

class AlertRules {
 public:
  AlertRules(const config::HealthConfig& health, double segment_duration_s);

  // New thresholds and hold times (a config reload); alerts that are firing stay
  // firing and resolve by the new rules.
  void reconfigure(const config::HealthConfig& health);

  // Evaluates every rule at sample.now_ms and returns what fired or resolved.
  std::vector<AlertEvent> evaluate(const HealthSample& sample);
  std::vector<ActiveAlert> active() const;

 private:
  struct Rule {
    std::string name;
    double hold_s = 0;
    bool firing = false;
    int64_t fired_at_ms = 0;
    int64_t true_since_ms = 0;   // 0 while the condition is false
    int64_t false_since_ms = 0;  // 0 while it is true
    std::string message;         // the newest description while the condition holds
  };
  void step(Rule& rule, std::optional<std::string> condition, int64_t now_ms, std::vector<AlertEvent>& events);

  config::HealthConfig cfg_;
  double segment_duration_s_;
  std::vector<Rule> rules_;
};

}  // namespace relay::health
