#pragma once
// Ties the alert rules to the incident log and to whoever wants to hear about
// alerts (the webhook sender). It is also the one health object the app hands the
// edge, so it carries the two audience figures the edge reports: the viewer
// sessions the router records, and the Q&A's pending questions, read through a
// function the app sets. Thread-safe: the edge's health timer feeds samples, HTTP
// handlers read the active alerts, the incidents and the figures.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "config/config.hpp"
#include "health/alerts.hpp"
#include "health/incident_log.hpp"
#include "health/viewer_sessions.hpp"

namespace relay::health {

// Questions waiting for a moderator, by room id.
using PendingQuestions = std::map<int64_t, uint64_t>;

class Monitor {
 public:
  // An alert that fired or resolved, with its incident id. Called with no lock
  // held, on the thread that called observe(); keep it short (queue the work).
  using Listener = std::function<void(const AlertEvent& event, uint64_t incident_id)>;

  // Opens the incident log (health.incident_log, or incidents.jsonl in
  // qa.data_dir). Throws std::runtime_error when it cannot.
  Monitor(const config::Config& cfg, int64_t now_ms);

  void set_listener(Listener listener);
  // The alert rules' thresholds and hold times from a reloaded config; the
  // incident log, the webhook and the viewer window stay as they were started.
  void reconfigure(const config::HealthConfig& health);
  void observe(const HealthSample& sample);

  std::vector<ActiveAlert> active() const;
  std::vector<Incident> incidents(size_t limit) const;
  std::optional<HealthSample> last_sample() const;
  uint64_t alerts_fired() const;

  // Thread-safe itself: the router records every media request into it, which
  // changes nothing the rules or the log depend on.
  ViewerSessions& viewers() const { return viewers_; }

  // The Q&A sits above health, so the app hands in a function that asks it. It
  // is called with no lock of the monitor held.
  void set_pending_questions(std::function<PendingQuestions()> source);
  // Nothing until the app has set the function.
  std::optional<PendingQuestions> pending_questions() const;

 private:
  mutable std::mutex mutex_;
  AlertRules rules_;
  IncidentLog log_;
  Listener listener_;
  std::function<PendingQuestions()> pending_questions_;
  std::optional<HealthSample> last_;
  uint64_t fired_ = 0;
  mutable ViewerSessions viewers_;
};

}  // namespace relay::health
