#include "edge/health_report.hpp"

#include <fmt/format.h>

#include "common/clock.hpp"

namespace relay::edge {

nlohmann::json make_health_report(const hls::Store& store, const health::IngestSnapshot& ingest,
                                  const config::HlsConfig& hls, int64_t now_epoch_ms, double uptime_s) {
  using nlohmann::json;
  json reasons = json::array();
  bool down = false;
  bool degraded = false;

  if (ingest.state == health::IngestState::failed || ingest.state == health::IngestState::ended) {
    down = true;
    reasons.push_back(ingest.last_error.empty()
                          ? fmt::format("ingest {}", health::to_string(ingest.state))
                          : fmt::format("ingest {}: {}", health::to_string(ingest.state), ingest.last_error));
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
        reasons.push_back(fmt::format("{}: newest segment is {:.1f} s old (limit {:.1f} s)", name, age_s, stale_after_s));
      }
    }
    renditions.push_back(std::move(r));
  }

  if (!any_segment) {
    down = true;
    reasons.push_back("no segment published yet");
  } else {
    // A rendition that never produced a segment while others did is a broken encoder branch.
    for (size_t i = 0; i < renditions.size(); ++i) {
      if (renditions[i]["last_segment_age_s"].is_null()) {
        degraded = true;
        reasons.push_back(fmt::format("{}: no segment yet", store.names()[i]));
      }
    }
  }

  return {
      {"status", down ? "down" : degraded ? "degraded" : "ok"},
      {"reasons", std::move(reasons)},
      {"ingest",
       {{"state", health::to_string(ingest.state)},
        {"since", format_iso8601_ms(ingest.since_epoch_ms)},
        {"source", ingest.source},
        {"last_error", ingest.last_error},
        {"bus_errors", ingest.bus_errors},
        {"bus_warnings", ingest.bus_warnings}}},
      {"renditions", std::move(renditions)},
      {"uptime_s", uptime_s},
  };
}

}  // namespace relay::edge
