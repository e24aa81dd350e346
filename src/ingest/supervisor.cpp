#include "ingest/supervisor.hpp"

namespace relay::ingest {

const char* to_string(Output o) {
  switch (o) {
    case Output::primary: return "primary";
    case Output::backup: return "backup";
    case Output::slate: return "slate";
  }
  return "unknown";
}

bool Supervisor::update(Track& track, int64_t now_ms, const InputSample& s) const {
  bool up = s.last_frame_ms != 0 && !s.ended && now_ms - s.last_frame_ms <= timing_.input_timeout_ms;
  if (up && !track.up) track.up_since_ms = now_ms;
  track.up = up;
  return up;
}

Decision Supervisor::tick(int64_t now_ms, InputSample primary, InputSample backup) {
  const Output before = output_;
  const bool p_up = update(primary_, now_ms, primary);
  const bool b_up = has_backup_ && update(backup_, now_ms, backup);
  ever_up_ = ever_up_ || p_up || b_up;
  ever_primary_up_ = ever_primary_up_ || p_up;

  Decision d;
  switch (output_) {
    case Output::primary:
      if (p_up) {
        d.state = health::IngestState::live;
      } else if (b_up && !ever_primary_up_) {
        output_ = Output::backup;
        d.state = health::IngestState::backup;
      } else if (!ever_up_) {
        // The primary is selected at start; with nothing up yet there is nothing to hold.
        output_ = Output::slate;
        d.state = primary.ended ? health::IngestState::ended : health::IngestState::waiting;
      } else if (b_up) {
        d.input_lost = true;
        output_ = Output::backup;
        d.state = health::IngestState::backup;
      } else {
        d = lost(now_ms, primary.ended, d);
      }
      break;
    case Output::backup:
      if (p_up && now_ms - primary_.up_since_ms >= timing_.failback_ms) {
        output_ = Output::primary;
        d.state = health::IngestState::live;
      } else if (b_up) {
        d.state = health::IngestState::backup;
      } else if (p_up) {
        // The backup died while the primary was still proving itself: take it now.
        d.input_lost = true;
        output_ = Output::primary;
        d.state = health::IngestState::live;
      } else {
        d = lost(now_ms, primary.ended, d);
      }
      break;
    case Output::slate:
      if (p_up) {
        output_ = Output::primary;
        d.state = health::IngestState::live;
      } else if (b_up) {
        output_ = Output::backup;
        d.state = health::IngestState::backup;
      } else {
        d.state = primary.ended ? health::IngestState::ended
                  : ever_up_    ? health::IngestState::slate
                                : health::IngestState::waiting;
      }
      break;
  }
  if (output_ != Output::slate && (p_up || b_up)) lost_since_ms_ = 0;
  d.output = output_;
  d.switched = output_ != before;
  return d;
}

// The input on air has no picture and nothing can replace it: keep its last
// picture on screen for slate_after_ms, then the slate.
Decision Supervisor::lost(int64_t now_ms, bool primary_ended, Decision d) {
  if (lost_since_ms_ == 0) {
    lost_since_ms_ = now_ms;
    d.input_lost = true;
  }
  if (now_ms - lost_since_ms_ >= timing_.slate_after_ms) {
    output_ = Output::slate;
    d.state = primary_ended ? health::IngestState::ended : health::IngestState::slate;
  } else {
    d.state = health::IngestState::lost;
  }
  return d;
}

}  // namespace relay::ingest
