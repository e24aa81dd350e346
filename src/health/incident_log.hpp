#pragma once
// The incident log: every alert that fired, when, and when it resolved, kept in
// an append-only file of JSON lines so it survives a restart (and a kill -9: a
// torn last line is skipped on load). The lines are written and synced to disk by
// a thread of the log's own, so the edge thread that saw an alert change never
// waits for the disk; destroying the log writes and syncs what is still queued.
// Not thread-safe otherwise; Monitor serialises calls.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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

  // Queues the event's line for the writer thread and returns its incident id at once.
  uint64_t record(const AlertEvent& event);
  // Waits until every line queued so far is written and synced.
  void flush();
  // Newest first, at most `limit`.
  std::vector<Incident> recent(size_t limit) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  void append(std::string line);
  void write_lines();
  Incident* find(uint64_t id);

  std::filesystem::path path_;
  size_t keep_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;  // the writer thread's once it runs
  std::deque<Incident> incidents_;          // oldest first
  std::map<std::string, uint64_t> open_;    // rule -> incident id
  uint64_t next_id_ = 1;

  // Lines waiting for the writer. Alerts change a few times an hour; a disk that
  // holds up more than the limit loses the newest lines (logged), not the stream.
  static constexpr size_t kQueueLimit = 10000;
  std::mutex queue_mutex_;
  std::condition_variable queued_;   // to the writer: lines or stop
  std::condition_variable written_;  // to flush(): the queue is on disk
  std::deque<std::string> queue_;
  size_t writing_ = 0;  // lines taken by the writer and not yet synced
  bool stopping_ = false;
  std::thread writer_;  // last: started once everything above exists
};

}  // namespace relay::health
