#pragma once
// Ties the alert rules to the incident log and to whoever wants to hear about
// alerts (the webhook sender). Thread-safe: the edge's health timer feeds
// samples, HTTP handlers read the active alerts and the incidents.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "config/config.hpp"
#include "health/alerts.hpp"
#include "health/incident_log.hpp"

namespace relay::health {

class Monitor {
 public:
  // An alert that fired or resolved, with its incident id. Called with no lock
  // held, on the thread that called observe(); keep it short (queue the work).
  using Listener = std::function<void(const AlertEvent& event, uint64_t incident_id)>;

  // Opens the incident log (health.incident_log, or incidents.jsonl in
  // qa.data_dir). Throws std::runtime_error when it cannot.
  Monitor(const config::Config& cfg, int64_t now_ms);

  void set_listener(Listener listener);
  void observe(const HealthSample& sample);

  std::vector<ActiveAlert> active() const;
  std::vector<Incident> incidents(size_t limit) const;
  std::optional<HealthSample> last_sample() const;
  uint64_t alerts_fired() const;

 private:
  mutable std::mutex mutex_;
  AlertRules rules_;
  IncidentLog log_;
  Listener listener_;
  std::optional<HealthSample> last_;
  uint64_t fired_ = 0;
};

}  // namespace relay::health
