#include "health/monitor.hpp"

#include <cmath>

#include "common/log.hpp"

namespace relay::health {
namespace {

std::filesystem::path incident_log_path(const config::Config& cfg) {
  if (!cfg.health.incident_log.empty()) return cfg.health.incident_log;
  return cfg.qa.data_dir / "incidents.jsonl";
}

constexpr size_t kMaxViewerSessions = 100'000;

}  // namespace

Monitor::Monitor(const config::Config& cfg, int64_t now_ms)
    : rules_(cfg.health, cfg.hls.segment_duration_s),
      log_(incident_log_path(cfg), now_ms),
      viewers_(std::llround(cfg.health.viewer_window_s * 1000), kMaxViewerSessions) {}

void Monitor::reconfigure(const config::HealthConfig& health) {
  std::lock_guard lock(mutex_);
  rules_.reconfigure(health);
}

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

void Monitor::set_pending_questions(std::function<PendingQuestions()> source) {
  std::lock_guard lock(mutex_);
  pending_questions_ = std::move(source);
}

std::optional<PendingQuestions> Monitor::pending_questions() const {
  std::function<PendingQuestions()> source;
  {
    std::lock_guard lock(mutex_);
    source = pending_questions_;
  }
  if (!source) return std::nullopt;
  return source();
}

}  // namespace relay::health
