#pragma once
// The incident log: every alert that fired, when, and when it resolved, kept in
// an append-only file of JSON lines so it survives a restart (and a kill -9: a
// torn last line is skipped on load). Not thread-safe; Monitor serialises calls.
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "health/alerts.hpp"

namespace relay::health {

struct Incident {
  uint64_t id = 0;
  std::string rule;
  std::string message;
  int64_t fired_at_ms = 0;
  std::optional<int64_t> ended_at_ms;
  // How it ended: "resolved", or "interrupted" when the relay stopped while it
  // was firing (ended_at_ms is then the start of the next run).
  std::string ending;
};

class IncidentLog {
 public:
  // Creates the folder if needed, reads what earlier runs wrote and closes the
  // incidents they left open as interrupted. Throws std::runtime_error with the path.
  IncidentLog(std::filesystem::path file, int64_t now_ms, size_t keep = 1000);
  ~IncidentLog();
  IncidentLog(const IncidentLog&) = delete;
  IncidentLog& operator=(const IncidentLog&) = delete;

  // Appends the event (flushed and synced before it returns) and returns its incident id.
  uint64_t record(const AlertEvent& event);
  // Newest first, at most `limit`.
  std::vector<Incident> recent(size_t limit) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  void append(const std::string& line);
  Incident* find(uint64_t id);

  std::filesystem::path path_;
  size_t keep_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  std::deque<Incident> incidents_;          // oldest first
  std::map<std::string, uint64_t> open_;    // rule -> incident id
  uint64_t next_id_ = 1;
};

}  // namespace relay::health
