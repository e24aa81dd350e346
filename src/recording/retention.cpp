#include "recording/retention.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "recording/journal.hpp"

namespace relay::recording {
namespace fs = std::filesystem;

namespace {

int64_t mtime_ms(const fs::path& path) {
  std::error_code ec;
  const auto written = fs::last_write_time(path, ec);
  if (ec) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::file_clock::to_sys(written).time_since_epoch())
      .count();
}

}  // namespace

std::vector<EventAge> event_ages(const fs::path& recording_dir) {
  std::vector<EventAge> ages;
  for (const std::string& name : list_events(recording_dir)) {
    const fs::path dir = recording_dir / name;
    EventAge age{name, 0, 0};
    if (const auto index = read_event(dir); index && index->last_epoch_ms) {
      age.last_epoch_ms = *index->last_epoch_ms;
      age.first_epoch_ms = index->runs.empty() ? age.last_epoch_ms : index->runs.front().at_epoch_ms;
    } else {
      age.last_epoch_ms = age.first_epoch_ms = mtime_ms(dir / kJournalName);
    }
    ages.push_back(std::move(age));
  }
  return ages;
}

std::vector<std::string> select_expired(const std::vector<EventAge>& events, int64_t before_epoch_ms,
                                        const std::string& keep) {
  std::vector<std::string> expired;
  for (const EventAge& event : events)
    if (event.event != keep && event.last_epoch_ms < before_epoch_ms) expired.push_back(event.event);
  return expired;
}

std::optional<int64_t> retention_cutoff(int64_t now_epoch_ms, int retention_days) {
  if (retention_days <= 0) return std::nullopt;
  return now_epoch_ms - int64_t{retention_days} * 86'400'000;
}

std::vector<std::string> purge_events(const fs::path& recording_dir, int64_t before_epoch_ms, const std::string& keep,
                                      std::vector<std::string>* errors) {
  std::vector<std::string> removed;
  for (const std::string& name : select_expired(event_ages(recording_dir), before_epoch_ms, keep)) {
    std::error_code ec;
    fs::remove_all(recording_dir / name, ec);
    if (ec) {
      if (errors) errors->push_back(fmt::format("{}: {}", (recording_dir / name).string(), ec.message()));
      continue;
    }
    removed.push_back(name);
  }
  return removed;
}

}  // namespace relay::recording
