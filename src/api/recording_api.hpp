#pragma once
// The recording's API (docs/recording.md), technician or admin token:
//   GET  /api/recording         state, event, run, bytes, segments, dropped, disk free, oldest event kept, last error
//   POST /api/recording/start   start recording (a new run of the event); 409 when already recording
//   POST /api/recording/stop    stop recording; 409 when not recording
// Start and stop run on the recorder's own thread (they open files and fsync);
// the answer comes when they are done.
#include <string_view>

#include <nlohmann/json.hpp>

#include "auth/authority.hpp"
#include "net/handler.hpp"
#include "recording/recorder.hpp"

namespace relay::api {

inline constexpr std::string_view kRecordingPrefix = "/api/recording";

// The status as the API and /tech show it.
nlohmann::json recording_json(const recording::RecorderStatus& status);

class RecordingApi {
 public:
  // Both outlive the api.
  RecordingApi(recording::Recorder& recorder, const auth::Authority& authority);

  net::Outcome handle(const net::Exchange& exchange) const;

 private:
  recording::Recorder& recorder_;
  const auth::Authority& authority_;
};

}  // namespace relay::api
