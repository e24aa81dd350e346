#pragma once
// What the hall relay's uplink (outbound/uplink) reports of its push to the
// cloud relay: for /api/health, /metrics and the alert on a push that fails.
#include <cstdint>
#include <string>

namespace relay::health {

struct UplinkStatus {
  // "pushing": the newest attempts succeeded; "retrying": some rendition's
  // object failed and waits to be tried again.
  std::string state = "pushing";
  std::string last_error;       // redacted; "" when none yet
  double backlog_s = 0;         // media seconds waiting, in the rendition furthest behind
  uint64_t backlog_bytes = 0;   // bytes waiting, all renditions
  double lag_s = 0;             // age of the oldest object waiting; 0 when none waits
  uint64_t retries = 0;         // failed attempts that will be tried again
  uint64_t bytes_pushed = 0;    // bodies delivered: init sections, parts, segments and playlists
  uint64_t media_bytes_pushed = 0;  // of which media (init sections, parts, segments)
  uint64_t requests_ok = 0;
  uint64_t requests_failed = 0;   // no answer, or an answer that is retried (401, 403, 404, 5xx …)
  uint64_t requests_refused = 0;  // 400 or 413: the object is given up
  uint64_t segments_dropped = 0;  // whole segments dropped from a full backlog
};

}  // namespace relay::health
