#pragma once
// The Q&A domain's vocabulary: rooms, attendees, questions and their states, the
// roles a caller can have, and the error every refused operation throws. Plain
// data, no I/O.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "auth/role.hpp"

namespace relay::qa {

// Roles and callers are the auth module's (one authority for tokens).
using auth::Caller;
using auth::Role;
using auth::to_string;

// pending → approved | rejected; approved → starred → on_stage → answered;
// any → hidden; reopen brings rejected/hidden back to pending and answered back
// to approved. At most one question per room is on_stage.
enum class State { pending, approved, rejected, starred, on_stage, answered, hidden };

std::string_view to_string(State state);
std::optional<State> state_from_string(std::string_view text);
// The states every attendee sees; the others only staff and the author do.
bool is_public(State state);

struct Room {
  int64_t id = 0;
  std::string title;
  bool open = true;          // attendees may ask
  bool auto_approve = false; // new questions go straight to approved (unless the word list holds them)
  int slow_mode_s = 0;       // an attendee asks at most once per this many seconds here; 0 = off
  uint64_t seq = 0;          // last event number of this room
  int64_t created_ms = 0;
};

struct Attendee {
  int64_t id = 0;
  std::string token_hash;  // hex SHA-256 of the bearer token; the token itself is never stored
  std::string name;
  int64_t created_ms = 0;
  int64_t timeout_until_ms = 0;  // may not ask or vote before this
  bool banned = false;
};

struct Question {
  int64_t id = 0;
  int64_t room = 0;
  int64_t author = 0;  // attendee id; 0 for a question staff typed in
  std::string author_name;
  std::string text;
  std::string original_text;  // what the author wrote, kept when a moderator edits
  std::string answer;         // a moderator's text answer
  State state = State::pending;
  bool held = false;  // the word list matched: waits for review whatever the room's auto-approve says
  int64_t votes = 0;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
};

// What the caller is, once its bearer token is checked.
// Every refused operation. The code maps one to one to an HTTP status.
class Error : public std::runtime_error {
 public:
  enum class Code {
    bad_request, unauthorized, forbidden, not_found, conflict, too_large, unprocessable, rate_limited, unavailable
  };
  Error(Code code, std::string_view reason, const std::string& message, int retry_after_s = 0)
      : std::runtime_error(message), code(code), reason(reason), retry_after_s(retry_after_s) {}

  Code code;
  std::string reason;  // short machine-readable word, e.g. "too_long"
  int retry_after_s;   // for rate_limited and unavailable
};

int http_status(Error::Code code);

}  // namespace relay::qa
