#include "health/monitor.hpp"

#include "common/log.hpp"

namespace relay::health {
namespace {

std::filesystem::path incident_log_path(const config::Config& cfg) {
  if (!cfg.health.incident_log.empty()) return cfg.health.incident_log;
  return cfg.qa.data_dir / "incidents.jsonl";
}

}  // namespace

Monitor::Monitor(const config::Config& cfg, int64_t now_ms)
    : rules_(cfg.health, cfg.hls.segment_duration_s), log_(incident_log_path(cfg), now_ms) {}

void Monitor::set_listener(Listener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void Monitor::observe(const HealthSample& sample) {
  std::vector<std::pair<AlertEvent, uint64_t>> happened;
  Listener listener;
  {
    std::lock_guard lock(mutex_);
    last_ = sample;
    for (auto& event : rules_.evaluate(sample)) {
      uint64_t id = log_.record(event);
      if (event.firing) ++fired_;
      happened.emplace_back(std::move(event), id);
    }
    listener = listener_;
  }
  if (happened.empty()) return;
  auto log = log::get("health");
  for (const auto& [event, id] : happened) {
    if (event.firing) {
      log->warn("alert {} firing (incident {}): {}", event.rule, id, event.message);
    } else {
      log->info("alert {} resolved (incident {})", event.rule, id);
    }
    if (listener) listener(event, id);
  }
}

std::vector<ActiveAlert> Monitor::active() const {
  std::lock_guard lock(mutex_);
  return rules_.active();
}

std::vector<Incident> Monitor::incidents(size_t limit) const {
  std::lock_guard lock(mutex_);
  return log_.recent(limit);
}

std::optional<HealthSample> Monitor::last_sample() const {
  std::lock_guard lock(mutex_);
  return last_;
}

uint64_t Monitor::alerts_fired() const {
  std::lock_guard lock(mutex_);
  return fired_;
}

}  // namespace relay::health
