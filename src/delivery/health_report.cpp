#include "delivery/health_report.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/clock.hpp"

namespace relay::delivery {

nlohmann::json make_health_report(const hls::Store& store, const health::IngestSnapshot& ingest,
                                  const config::HlsConfig& hls, int64_t now_epoch_ms, double uptime_s,
                                  const std::vector<health::ActiveAlert>& alerts, bool unauthenticated_ingest,
                                  const health::UplinkStatus* push, const health::QaDatabaseStatus* qa) {
  using nlohmann::json;
  json reasons = json::array();
  json codes = json::array();
  // A code says what lowered the status, the same for everyone; the reason's
  // text is the technician's (it may name the input and its errors).
  auto reason = [&](std::string code, std::string text) {
    if (std::find(codes.begin(), codes.end(), code) == codes.end()) codes.push_back(std::move(code));
    reasons.push_back(std::move(text));
  };
  bool down = false;
  bool degraded = false;

  // Attendees still get a picture on the slate, but nothing of the seminar: for the
  // technician that is an outage.
  using health::IngestState;
  const std::string since = format_iso8601_ms(ingest.since_epoch_ms);
  switch (ingest.state) {
    case IngestState::failed:
    case IngestState::ended:
      down = true;
      reason(fmt::format("ingest_{}", health::to_string(ingest.state)),
             ingest.last_error.empty()
                 ? fmt::format("ingest {}", health::to_string(ingest.state))
                 : fmt::format("ingest {}: {}", health::to_string(ingest.state), ingest.last_error));
      break;
    case IngestState::waiting:
      down = true;
      reason("input_waiting", fmt::format("no input yet: showing the slate since {}", since));
      break;
    case IngestState::slate:
      down = true;
      reason("input_slate", fmt::format("input lost: showing the slate since {}", since));
      break;
    case IngestState::lost:
      degraded = true;
      reason("input_lost", fmt::format("input lost at {}: holding the last picture", since));
      break;
    case IngestState::backup:
      degraded = true;
      reason("input_backup", fmt::format("primary input lost: on the backup input since {}", since));
      break;
    case IngestState::starting:
    case IngestState::live:
      break;
  }

  const double stale_after_s = 3 * hls.segment_duration_s;
  json renditions = json::array();
  bool any_segment = false;
  for (size_t i = 0; i < store.rendition_count(); ++i) {
    auto snapshot = store.rendition(i);
    const std::string& name = store.names()[i];
    json r = {{"name", name}, {"last_msn", 0}, {"segments", 0}, {"last_segment_age_s", nullptr}};
    bool has_segment = snapshot && snapshot->last_segment_epoch_ms != 0;
    if (snapshot) {
      r["last_msn"] = snapshot->last_msn;
      r["segments"] = snapshot->segments.size();
    }
    if (has_segment) {
      any_segment = true;
      double age_s = static_cast<double>(now_epoch_ms - snapshot->last_segment_epoch_ms) / 1000.0;
      r["last_segment_age_s"] = age_s;
      if (age_s > stale_after_s) {
        degraded = true;
        reason("segment_late",
               fmt::format("{}: newest segment is {:.1f} s old (limit {:.1f} s)", name, age_s, stale_after_s));
      }
    }
    renditions.push_back(std::move(r));
  }

  if (!any_segment) {
    down = true;
    reason("no_segment", "no segment published yet");
  } else {
    // A rendition that never produced a segment while others did is a broken encoder branch.
    for (size_t i = 0; i < renditions.size(); ++i) {
      if (renditions[i]["last_segment_age_s"].is_null()) {
        degraded = true;
        reason("rendition_no_segment", fmt::format("{}: no segment yet", store.names()[i]));
      }
    }
  }

  json alert_list = json::array();
  for (const auto& a : alerts) {
    (a.rule == "input_lost" ? down : degraded) = true;
    reason("alert_" + a.rule, fmt::format("alert {} since {}: {}", a.rule, format_iso8601_ms(a.since_ms), a.message));
    alert_list.push_back({{"rule", a.rule}, {"since", format_iso8601_ms(a.since_ms)}, {"message", a.message}});
  }

  json uplink = nullptr;
  if (ingest.uplink) {
    const health::UplinkInfo& u = *ingest.uplink;
    if (u.state == "lost") {
      degraded = true;
      reason("uplink_lost", fmt::format("nothing pushed for {:.1f} s: holding the last picture", u.last_object_age_s));
    }
    uplink = {
        {"state", u.state},
        {"last_object_age_s", u.last_object_age_s >= 0 ? json(u.last_object_age_s) : json(nullptr)},
        {"lag_s", u.lag_s ? json(*u.lag_s) : json(nullptr)},
        {"bytes_received", u.bytes_received},
        {"media_bytes", u.media_bytes},
        {"objects", u.objects_accepted},
        {"objects_rejected", u.objects_rejected},
        {"gaps", u.gaps},
    };
  }

  if (unauthenticated_ingest) {
    degraded = true;
    reason("ingest_unauthenticated",
           "an SRT listener accepts any sender without a passphrase (ingest.allow_unauthenticated)");
  }

  // The Q&A's database: out of reach, asking and moderating wait (503), the
  // video and the live feeds go on.
  json qa_database = nullptr;
  if (qa) {
    if (!qa->ok) {
      degraded = true;
      reason("qa_database", fmt::format("the Q&A database cannot be reached since {}: {}",
                                        format_iso8601_ms(qa->since_ms), qa->problem));
    }
    qa_database = {{"database", qa->engine},
                   {"state", qa->ok ? "ok" : "unavailable"},
                   {"problem", qa->problem},
                   {"since", qa->ok ? json(nullptr) : json(format_iso8601_ms(qa->since_ms))}};
  }

  // This relay's own push to a cloud relay (outbound/uplink), when it is a hall relay.
  json pushing = nullptr;
  if (push) {
    if (push->state == "retrying") {
      degraded = true;
      reason("uplink_retrying", fmt::format("uplink: cannot push to the cloud relay ({}); {:.1f} s of media waiting",
                                            push->last_error, push->backlog_s));
    }
    pushing = {
        {"state", push->state},
        {"last_error", push->last_error},
        {"backlog_s", push->backlog_s},
        {"backlog_bytes", push->backlog_bytes},
        {"lag_s", push->lag_s},
        {"retries", push->retries},
        {"bytes_pushed", push->bytes_pushed},
        {"media_bytes_pushed", push->media_bytes_pushed},
        {"requests_ok", push->requests_ok},
        {"requests_failed", push->requests_failed},
        {"requests_refused", push->requests_refused},
        {"segments_dropped", push->segments_dropped},
    };
  }
  // One "uplink" per relay, in the role it has: a cloud relay's received push,
  // or a hall relay's own push; a relay doing both (a chain) shows its own push
  // as "uplink_out".
  json uplink_out = nullptr;
  if (uplink.is_null()) {
    uplink = pushing.is_null() ? json{{"state", "off"}} : std::move(pushing);
  } else {
    uplink_out = std::move(pushing);
  }

  json inputs = json::array();
  for (const auto& in : ingest.inputs) {
    inputs.push_back({
        {"role", in.role},
        {"uri", in.uri},
        {"state", in.state},
        {"bitrate_kbps", in.bitrate_kbps > 0 ? json(in.bitrate_kbps) : json(nullptr)},
        {"width", in.width ? json(in.width) : json(nullptr)},
        {"height", in.height ? json(in.height) : json(nullptr)},
        {"framerate", in.framerate > 0 ? json(in.framerate) : json(nullptr)},
        {"audio_channels", in.audio_channels},
        {"audio_rate", in.audio_rate ? json(in.audio_rate) : json(nullptr)},
        {"last_frame_age_s", in.last_frame_age_ms >= 0 ? json(in.last_frame_age_ms / 1000.0) : json(nullptr)},
        {"frames_dropped", in.frames_dropped},
        {"frames_duplicated", in.frames_duplicated},
        {"frames_late", in.frames_late},
        {"keyframe_interval_s", in.keyframe_interval_s ? json(*in.keyframe_interval_s) : json(nullptr)},
        {"reconnects", in.reconnects},
        {"refused", in.refused},
        {"last_error", in.last_error},
    });
  }

  json audio_tracks = json::array();
  for (const auto& t : ingest.audio_tracks) {
    audio_tracks.push_back({
        {"name", t.name},
        {"language", t.language},
        {"rendition", t.rendition},
        {"source", t.source},
        {"state", t.state},
        {"last_audio_age_s", t.last_audio_age_ms >= 0 ? json(t.last_audio_age_ms / 1000.0) : json(nullptr)},
        {"rms_db", t.rms_db ? json(std::max(-200.0, *t.rms_db)) : json(nullptr)},
        {"reconnects", t.reconnects},
        {"last_error", t.last_error},
    });
  }

  json report = {
      {"status", down ? "down" : degraded ? "degraded" : "ok"},
      {"reasons", std::move(reasons)},
      {"codes", std::move(codes)},
      {"ingest",
       {{"state", health::to_string(ingest.state)},
        {"since", since},
        {"source", ingest.source},
        {"output", ingest.output},
        {"last_error", ingest.last_error},
        {"loss_events", ingest.loss_events},
        {"reconnects", ingest.reconnects},
        {"refused_senders", ingest.refused_senders},
        {"last_refusal", ingest.last_refusal},
        {"bus_errors", ingest.bus_errors},
        {"bus_warnings", ingest.bus_warnings},
        {"inputs", std::move(inputs)},
        {"audio_tracks", std::move(audio_tracks)}}},
      {"uplink", std::move(uplink)},
      {"renditions", std::move(renditions)},
      {"alerts", std::move(alert_list)},
      {"uptime_s", uptime_s},
  };
  if (!uplink_out.is_null()) report["uplink_out"] = std::move(uplink_out);
  if (!qa_database.is_null()) report["qa"] = std::move(qa_database);
  return report;
}

nlohmann::json public_health_report(const nlohmann::json& report) {
  return {{"status", report.at("status")}, {"codes", report.at("codes")}};
}

}  // namespace relay::delivery
