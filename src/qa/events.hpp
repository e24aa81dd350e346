#pragma once
// What the Q&A tells its live subscribers. Each event is numbered within its
// room (seq, persisted, never reused) and carries the server's wall-clock time.
// Its JSON text is built once per audience and shared by every subscriber:
// staff see everything, everyone else the public view, and the author of a
// question also their own question while nobody else may see it.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "qa/types.hpp"

namespace relay::qa {

using Message = std::shared_ptr<const std::string>;

struct Event {
  uint64_t seq = 0;
  int64_t room = 0;
  Message staff;     // moderators and admins
  Message everyone;  // attendees, speakers, technicians; null when not for them
  int64_t author = 0;
  Message for_author;  // the author's own view, when it differs from `everyone`

  // What the caller receives, or null when the event is not for them.
  const Message& for_caller(const Caller& caller) const {
    if (caller.is_staff()) return staff;
    if (author != 0 && caller.role == Role::attendee && caller.attendee == author && for_author) return for_author;
    return everyone;
  }
};

using EventPtr = std::shared_ptr<const Event>;

// The last events of one room, for clients that reconnect with since=seq.
class EventLog {
 public:
  explicit EventLog(size_t capacity) : capacity_(capacity) {}

  void append(EventPtr event);
  // The events after `since`, or false when some of them are no longer kept
  // (or `since` is ahead of `latest`: the client saw another history).
  bool after(uint64_t since, uint64_t latest, std::vector<EventPtr>& out) const;

 private:
  size_t capacity_;
  std::deque<EventPtr> events_;
};

// Something that wants a room's events, such as a WebSocket session. Called with
// the Q&A's lock held: it must only queue the event (post it to its strand) and
// must not call back into the Q&A.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  virtual void deliver(const EventPtr& event) = 0;
  // The attendee this subscriber was opened for has just been banned: it must
  // end its connection (post, as deliver does).
  virtual void banned() {}
};

}  // namespace relay::qa
