#pragma once
// What the ingest side reports about itself, read by /api/health. Thread-safe:
// the GLib thread writes, edge threads read copies.
#include <cstdint>
#include <mutex>
#include <string>

namespace relay::health {

enum class IngestState { starting, live, ended, failed };

const char* to_string(IngestState s);

struct IngestSnapshot {
  IngestState state = IngestState::starting;
  int64_t since_epoch_ms = 0;
  std::string source;
  std::string last_error;  // "element: message", empty when none
  uint64_t bus_errors = 0;
  uint64_t bus_warnings = 0;
};

class IngestStatus {
 public:
  explicit IngestStatus(std::string source);

  void set_state(IngestState state);
  // Moves to `next` only from `expected`, so a late report cannot undo a newer state.
  void advance(IngestState expected, IngestState next);
  void record_error(const std::string& element, const std::string& message);
  void record_warning(const std::string& element, const std::string& message);

  IngestSnapshot snapshot() const;

 private:
  mutable std::mutex mutex_;
  IngestSnapshot s_;
};

}  // namespace relay::health
