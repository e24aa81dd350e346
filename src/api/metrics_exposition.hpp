#pragma once
// The /metrics document: everything a technician's Prometheus scrapes, named
// seminar_relay_… with the unit in the name and labels for rendition, route,
// status and input role. Built from copies, so it is tested without a server.
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "net/stats.hpp"
#include "health/alerts.hpp"
#include "health/ingest_status.hpp"
#include "health/monitor.hpp"
#include "health/process_stats.hpp"
#include "health/qoe.hpp"
#include "health/qa_status.hpp"
#include "health/recording_status.hpp"
#include "health/uplink_status.hpp"
#include "health/viewer_sessions.hpp"
#include "hls/store.hpp"

namespace relay::api {

struct MetricsInputs {
  MetricsInputs(const hls::Store& store, health::IngestSnapshot ingest, net::Stats edge, const config::HlsConfig& hls,
                int64_t now_ms)
      : store(store), ingest(std::move(ingest)), edge(std::move(edge)), hls(hls), now_ms(now_ms) {}

  const hls::Store& store;
  health::IngestSnapshot ingest;
  net::Stats edge;
  const config::HlsConfig& hls;
  int64_t now_ms = 0;
  double uptime_s = 0;
  std::optional<health::HealthSample> sample;  // the newest the alert rules saw
  std::vector<health::ActiveAlert> alerts;
  uint64_t alerts_fired = 0;
  std::optional<health::ProcessStats> process;
  std::optional<health::QoeSummary> qoe;
  std::optional<health::ViewerSessions::Count> viewers;  // from the media requests
  std::optional<health::PendingQuestions> pending_questions;
  std::optional<health::UplinkStatus> uplink;  // the hall uplink's push, when configured
  std::optional<health::QaDatabaseStatus> qa_database;  // once the app has connected the Q&A
  std::optional<health::RecordingStatus> recording;     // the recorder's, when the app has one
};

std::string render_metrics(const MetricsInputs& in);

}  // namespace relay::api
