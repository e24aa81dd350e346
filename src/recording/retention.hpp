#pragma once
// Which recorded events are old enough to go (recording.retention_days, the
// purge command), and removing them. An event's age is that of its newest
// journal entry, so a two-day event is kept until its second day has aged.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace relay::recording {

struct EventAge {
  std::string event;
  int64_t last_epoch_ms = 0;  // newest journal entry (or the journal's mtime without one)
  int64_t first_epoch_ms = 0; // first run (or the same fallback)
};

// Every event under the recording dir with its times, oldest first.
std::vector<EventAge> event_ages(const std::filesystem::path& recording_dir);

// The events whose newest entry is before `before_epoch_ms`, never `keep` (the one being recorded).
std::vector<std::string> select_expired(const std::vector<EventAge>& events, int64_t before_epoch_ms,
                                        const std::string& keep);

// The cut-off for retention_days at `now`; nullopt for 0 (keep forever).
std::optional<int64_t> retention_cutoff(int64_t now_epoch_ms, int retention_days);

// Removes the expired events' folders; returns the names removed (errors go to
// `errors`, one line each). Never touches `keep`.
std::vector<std::string> purge_events(const std::filesystem::path& recording_dir, int64_t before_epoch_ms,
                                      const std::string& keep, std::vector<std::string>* errors = nullptr);

}  // namespace relay::recording
