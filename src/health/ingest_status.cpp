#include "health/ingest_status.hpp"

#include "common/clock.hpp"

namespace relay::health {

const char* to_string(IngestState s) {
  switch (s) {
    case IngestState::starting: return "starting";
    case IngestState::waiting: return "waiting";
    case IngestState::live: return "live";
    case IngestState::backup: return "backup";
    case IngestState::lost: return "lost";
    case IngestState::slate: return "slate";
    case IngestState::ended: return "ended";
    case IngestState::failed: return "failed";
  }
  return "unknown";
}

const InputInfo* on_air_input(const IngestSnapshot& s) {
  std::string role = s.output;
  if (s.state == IngestState::live) role = "primary";
  if (s.state == IngestState::backup) role = "backup";
  for (const auto& i : s.inputs) {
    if (i.role == role) return &i;
  }
  return nullptr;
}

IngestStatus::IngestStatus(std::string source) {
  s_.source = std::move(source);
  s_.since_epoch_ms = now_epoch_ms();
}

void IngestStatus::set_state(IngestState state) {
  std::lock_guard lock(mutex_);
  if (s_.state == state || s_.state == IngestState::failed) return;
  s_.state = state;
  s_.since_epoch_ms = now_epoch_ms();
}

void IngestStatus::advance(IngestState expected, IngestState next) {
  std::lock_guard lock(mutex_);
  if (s_.state != expected) return;
  s_.state = next;
  s_.since_epoch_ms = now_epoch_ms();
}

void IngestStatus::set_output(std::string output) {
  std::lock_guard lock(mutex_);
  s_.output = std::move(output);
}

void IngestStatus::record_loss() {
  std::lock_guard lock(mutex_);
  ++s_.loss_events;
}

void IngestStatus::record_refusal(const std::string& why) {
  std::lock_guard lock(mutex_);
  ++s_.refused_senders;
  s_.last_refusal = why;
}

void IngestStatus::record_error(const std::string& element, const std::string& message) {
  std::lock_guard lock(mutex_);
  ++s_.bus_errors;
  s_.last_error = element + ": " + message;
}

void IngestStatus::record_warning(const std::string&, const std::string&) {
  std::lock_guard lock(mutex_);
  ++s_.bus_warnings;
}

void IngestStatus::set_inputs(std::vector<InputInfo> inputs) {
  std::lock_guard lock(mutex_);
  s_.reconnects = 0;
  for (const auto& i : inputs) s_.reconnects += i.reconnects;
  s_.inputs = std::move(inputs);
}

void IngestStatus::set_uplink(UplinkInfo uplink) {
  std::lock_guard lock(mutex_);
  s_.uplink = std::move(uplink);
}

void IngestStatus::set_audio_level(double rms_db, double peak_db) {
  std::lock_guard lock(mutex_);
  s_.audio_rms_db = rms_db;
  s_.audio_peak_db = peak_db;
  s_.audio_level_epoch_ms = now_epoch_ms();
}

void IngestStatus::set_audio_tracks(std::vector<AudioTrackInfo> tracks) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < tracks.size() && i < s_.audio_tracks.size(); ++i) tracks[i].rms_db = s_.audio_tracks[i].rms_db;
  s_.audio_tracks = std::move(tracks);
}

void IngestStatus::set_audio_track_level(size_t track, double rms_db) {
  std::lock_guard lock(mutex_);
  if (track < s_.audio_tracks.size()) s_.audio_tracks[track].rms_db = rms_db;
}

void IngestStatus::set_thumbnail(std::string jpeg) {
  auto shared = std::make_shared<const std::string>(std::move(jpeg));
  std::lock_guard lock(mutex_);
  thumbnail_ = std::move(shared);
}

std::shared_ptr<const std::string> IngestStatus::thumbnail() const {
  std::lock_guard lock(mutex_);
  return thumbnail_;
}

IngestSnapshot IngestStatus::snapshot() const {
  std::lock_guard lock(mutex_);
  return s_;
}

}  // namespace relay::health
