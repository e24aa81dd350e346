#pragma once
// Decides, from when each input last delivered a picture, what the ladder shows:
// the primary, the backup or the slate, and what state to report. Plain logic on
// a monotonic millisecond clock, ticked by the ingest thread, tested directly.
#include <cstdint>

#include "health/ingest_status.hpp"

namespace relay::ingest {

enum class Output { primary = 0, backup = 1, slate = 2 };

const char* to_string(Output o);

struct SupervisorTiming {
  int64_t input_timeout_ms = 500;  // no picture this long = input lost
  int64_t slate_after_ms = 2000;   // then the frozen picture this long, then the slate
  int64_t failback_ms = 5000;      // primary up this long before leaving the backup
};

// What one input looks like at a tick: the monotonic time of its newest picture
// (0 = none yet) and whether it ended for good (a file that does not loop).
struct InputSample {
  int64_t last_frame_ms = 0;
  bool ended = false;
};

struct Decision {
  Output output = Output::slate;
  health::IngestState state = health::IngestState::waiting;
  bool switched = false;    // output differs from the previous tick
  bool input_lost = false;  // the input on air was lost at this tick (one loss event)
};

class Supervisor {
 public:
  Supervisor(SupervisorTiming timing, bool has_backup) : timing_(timing), has_backup_(has_backup) {}

  Decision tick(int64_t now_ms, InputSample primary, InputSample backup = {});

  Output output() const { return output_; }

 private:
  struct Track {
    bool up = false;
    int64_t up_since_ms = 0;
  };
  bool update(Track& track, int64_t now_ms, const InputSample& s) const;
  Decision lost(int64_t now_ms, bool primary_ended, Decision d);

  SupervisorTiming timing_;
  bool has_backup_;
  // The ladder starts with the primary selected: an input that is up at once
  // then needs no switch (a switch in the first frames would upset timestamps).
  Output output_ = Output::primary;
  Track primary_, backup_;
  bool ever_up_ = false;
  bool ever_primary_up_ = false;
  int64_t lost_since_ms_ = 0;  // when the input on air was lost; 0 while it is up
};

}  // namespace relay::ingest
