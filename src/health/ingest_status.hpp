#pragma once
// What the ingest side reports about itself, read by /api/health. Thread-safe:
// the GLib thread writes, edge threads read copies.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace relay::health {

// starting: pipelines not yet running; waiting: no input has delivered a picture
// yet (the slate is on); live: the primary is on air; backup: the backup is;
// lost: the input on air stopped and its last picture is held; slate: no input,
// the slate is on; ended: a file that does not loop ended; failed: the encoder
// side failed.
enum class IngestState { starting, waiting, live, backup, lost, slate, ended, failed };

const char* to_string(IngestState s);

// One input (primary or backup) as measured on its source pipeline.
struct InputInfo {
  std::string role;           // primary | backup
  std::string uri;            // with passwords replaced by ***
  std::string state;          // connecting | receiving | retrying | ended
  double bitrate_kbps = 0;    // compressed input rate over the last seconds; 0 = unknown
  int width = 0;              // decoded picture as sent, before scaling
  int height = 0;
  double framerate = 0;
  int audio_channels = 0;     // 0 = no sound
  int audio_rate = 0;
  int64_t last_frame_age_ms = -1;  // -1 = no picture yet
  // Frames the normaliser's videorate dropped and repeated to hold the ladder's
  // frame rate, and frames the source pipeline dropped as too late (QoS), since start.
  uint64_t frames_dropped = 0;
  uint64_t frames_duplicated = 0;
  uint64_t frames_late = 0;
  // Media time between the newest two keyframes of the compressed input, or since
  // the newest one when that is longer (a sender that stopped sending keyframes).
  // Absent for raw inputs (test:, raw v4l2) and before the first keyframe.
  std::optional<double> keyframe_interval_s;
  uint64_t reconnects = 0;
  uint64_t refused = 0;       // senders refused (wrong passphrase or stream id)
  std::string last_error;
};

// A push receiver's (ingest.source = "push:") view of the encoder pushing to it.
struct UplinkInfo {
  std::string state = "waiting";  // waiting: nothing pushed yet; receiving; lost: nothing for input_timeout
  double last_object_age_s = -1;  // -1: nothing yet
  std::optional<double> lag_s;    // now minus the wall clock (PDT) at the end of the newest media pushed
  uint64_t bytes_received = 0;    // objects and playlists
  uint64_t media_bytes = 0;       // of those, objects: what a pusher's bytes of media should equal
  uint64_t objects_accepted = 0;
  uint64_t objects_rejected = 0;
  uint64_t gaps = 0;              // discontinuities made for lost media or a restarted pusher
};

// An [[audio]] track (an interpreter) and its input.
struct AudioTrackInfo {
  std::string name;       // as the audio menu shows it
  std::string language;
  std::string rendition;  // audio-1, ...
  std::string source;     // with passwords replaced by ***
  // receiving; waiting (not yet connected); lost (the input stopped: the track
  // carries silence until it returns); channel: a channel of the main input
  std::string state = "waiting";
  int64_t last_audio_age_ms = -1;  // -1 = no sound yet
  uint64_t reconnects = 0;
  std::string last_error;
  std::optional<double> rms_db;  // loudest channel going into the track's encoder
};

struct IngestSnapshot {
  IngestState state = IngestState::starting;
  int64_t since_epoch_ms = 0;
  std::string source;
  std::string output = "slate";  // what is on air: primary | backup | slate
  std::string last_error;  // "element: message", empty when none
  uint64_t bus_errors = 0;
  uint64_t bus_warnings = 0;
  uint64_t loss_events = 0;
  uint64_t reconnects = 0;
  uint64_t refused_senders = 0;  // SRT senders libsrt refused (wrong or missing passphrase)
  std::string last_refusal;
  std::vector<InputInfo> inputs;
  // The programme sound going into the AAC encoder (the ladder's `level`
  // element), loudest channel, dBFS; -inf is digital silence.
  std::optional<double> audio_rms_db;
  std::optional<double> audio_peak_db;
  int64_t audio_level_epoch_ms = 0;  // when it was measured; 0 = never
  std::optional<UplinkInfo> uplink;  // a push receiver only
  std::vector<AudioTrackInfo> audio_tracks;  // [[audio]], in config order
};

// The input whose picture is on air: the one `output` names, or by the state
// (live: primary, backup: backup) when the output has not been reported yet. Null
// while the slate is on.
const InputInfo* on_air_input(const IngestSnapshot& s);

class IngestStatus {
 public:
  explicit IngestStatus(std::string source);

  void set_state(IngestState state);
  // Moves to `next` only from `expected`, so a late report cannot undo a newer state.
  void advance(IngestState expected, IngestState next);
  void set_output(std::string output);
  void record_loss();
  void record_refusal(const std::string& why);
  void record_error(const std::string& element, const std::string& message);
  void record_warning(const std::string& element, const std::string& message);
  void set_inputs(std::vector<InputInfo> inputs);
  void set_uplink(UplinkInfo uplink);
  void set_audio_level(double rms_db, double peak_db);
  // The [[audio]] tracks' inputs (keeps the levels set below).
  void set_audio_tracks(std::vector<AudioTrackInfo> tracks);
  void set_audio_track_level(size_t track, double rms_db);
  // The newest picture as JPEG, for the dashboard; null before the first.
  void set_thumbnail(std::string jpeg);
  std::shared_ptr<const std::string> thumbnail() const;

  IngestSnapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  IngestSnapshot s_;
  std::shared_ptr<const std::string> thumbnail_;
};

}  // namespace relay::health
