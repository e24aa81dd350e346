#pragma once
// The event's programme: the planned talks in order, and the moderator's marks of
// what actually happened (which talk is on stage, when each started and ended).
// Plain C++ without locks or I/O; the API holds it under its own mutex.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/wall_time.hpp"
#include "config/config.hpp"

namespace relay::programme {

struct Talk {
  std::string id;
  std::string title;
  std::vector<std::string> speakers;
  wall_time::WallTime planned_start;
  wall_time::WallTime planned_end;
  std::string language;
  std::string abstract;
  std::optional<std::int64_t> actual_start;  // unix seconds, set by start()
  std::optional<std::int64_t> actual_end;    // unix seconds, set by end()
};

// Why a moderator's mark was refused; the API answers 404 or 409 with the message.
enum class MarkError { unknown_talk, not_on_stage, already_ended, nothing_next };

struct MarkResult {
  std::optional<MarkError> error;
  std::string message;                // what went wrong, for the JSON error body
  std::optional<std::string> ended;   // the talk this mark took off the stage, if any
  std::optional<std::string> started; // the talk this mark put on stage, if any
};

// A change to a talk's plan (PUT /api/programme/<talk>); absent members stay.
struct TalkPatch {
  std::optional<std::string> title;
  std::optional<std::vector<std::string>> speakers;
  std::optional<wall_time::WallTime> start;
  std::optional<wall_time::WallTime> end;
  std::optional<std::string> language;
  std::optional<std::string> abstract;
};

class Programme {
 public:
  Programme() = default;
  explicit Programme(const config::ProgrammeConfig& config);

  const std::vector<Talk>& talks() const { return talks_; }
  const Talk* find(const std::string& id) const;
  const Talk* on_stage() const;
  // The first talk in planned order that has not started, after the one on stage if any.
  const Talk* next() const;

  // Puts the talk on stage at `now`. A talk already on stage is ended first (the
  // moderator moving on does not need two clicks); starting the talk that is on
  // stage changes nothing; a talk that has ended cannot start again.
  MarkResult start(const std::string& id, std::int64_t now);
  // Ends the talk on stage; refused for a talk that is not on stage.
  MarkResult end(const std::string& id, std::int64_t now);
  // Ends the talk on stage (if any) and starts next().
  MarkResult advance(std::int64_t now);

  // A mark read back after a restart (the recording's journal): the talk's
  // actual start and/or end as they were; a talk started and not ended is on
  // stage again. False for a talk no longer in the programme.
  bool restore_mark(const std::string& id, std::optional<std::int64_t> start, std::optional<std::int64_t> end);

  // Changes a talk's plan under the config's rules (a title, bounded printable
  // text, end after start, no overlap); the talks stay in start order. Returns
  // what is wrong, or nullopt when applied; unknown talks are the caller's to check.
  std::optional<std::string> update(const std::string& id, const TalkPatch& patch);

 private:
  Talk* find_mutable(const std::string& id);
  std::vector<Talk> talks_;  // planned order
  std::optional<std::size_t> on_stage_;
};

}  // namespace relay::programme
