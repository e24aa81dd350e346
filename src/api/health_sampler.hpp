#pragma once
// Turns the store and the ingest status into the health samples the alert rules
// read, a few times a second on the edge's health timer. It remembers when each
// rendition's segments were published, for the realtime factor: seconds of
// media produced per second of wall clock over the last window.
#include <cstdint>
#include <deque>
#include <vector>

#include "health/alerts.hpp"
#include "health/ingest_status.hpp"
#include "health/qoe.hpp"
#include "hls/store.hpp"

namespace relay::api {

class HealthSampler {
 public:
  // `qoe` may be null (no viewer figures).
  HealthSampler(const hls::Store& store, const health::IngestStatus& ingest, double window_s,
                const health::QoeAggregator* qoe = nullptr);

  // Not thread-safe: one caller (the health timer's strand).
  health::HealthSample sample(int64_t now_ms);

 private:
  struct Published {
    uint64_t msn = 0;
    int64_t at_ms = 0;      // wall clock of the publish that made msn the newest
    double media_s = 0;     // media produced up to and including msn, since tracking began
  };
  struct Track {
    std::deque<Published> history;
  };

  const hls::Store& store_;
  const health::IngestStatus& ingest_;
  const health::QoeAggregator* qoe_;
  int64_t window_ms_;
  std::vector<Track> tracks_;
};

}  // namespace relay::api
