#pragma once
// The /api/health document: what a technician or a load balancer needs to decide
// whether this edge is worth sending viewers to.
#include <cstdint>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "health/alerts.hpp"
#include "health/ingest_status.hpp"
#include "health/qa_status.hpp"
#include "health/uplink_status.hpp"
#include "hls/store.hpp"

namespace relay::delivery {

// status "down": the ingest failed or ended, or no rendition has produced a segment;
// "degraded": some rendition's newest segment is older than 3 segment durations;
// "ok" otherwise. Each reason that lowered the status is listed in "reasons".
// A firing alert lowers the status too (input_lost to "down", the others to
// "degraded") and is listed in "reasons" and in "alerts". An ingest that accepts
// SRT senders without a passphrase (ingest.allow_unauthenticated) is "degraded".
// "codes" names each kind of reason once (input_waiting, input_slate, input_lost,
// input_backup, ingest_failed, ingest_ended, no_segment, rendition_no_segment,
// segment_late, alert_<rule>, ingest_unauthenticated, uplink_retrying, qa_database).
// "uplink" is the relay's uplink in the role it has: the push it receives
// (ingest.source = "push:"; "lost" is degraded, uplink_lost), or else its own
// push to a cloud relay (`push`, the hall side: "pushing" or "retrying", the
// latter degraded with uplink_retrying), or else {"state": "off"}. A relay that
// receives a push and pushes on shows its own push as "uplink_out". "qa" is the
// Q&A database ({"database": "sqlite"|"postgresql", "state": "ok"|"unavailable",
// "problem", "since"}); out of reach it is degraded with qa_database.
nlohmann::json make_health_report(const hls::Store& store, const health::IngestSnapshot& ingest,
                                  const config::HlsConfig& hls, int64_t now_epoch_ms, double uptime_s,
                                  const std::vector<health::ActiveAlert>& alerts = {},
                                  bool unauthenticated_ingest = false,
                                  const health::UplinkStatus* push = nullptr,
                                  const health::QaDatabaseStatus* qa = nullptr);

// What anyone may see of a report: the status and the codes, nothing that names
// the input, its errors or the alerts' texts.
nlohmann::json public_health_report(const nlohmann::json& report);

}  // namespace relay::delivery
