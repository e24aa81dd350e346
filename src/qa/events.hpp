#pragma once
// What the Q&A tells its live subscribers. Each event is numbered by the
// database's log (seq: one order for all rooms and all relays on the database,
// never reused within an epoch) and carries the server's wall-clock time. Its
// JSON text is built once, by the relay that made the change, per audience and
// shared by every subscriber: staff see everything, everyone else the public
// view, and the author of a question also their own question while nobody
// else may see it.
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

// The last events of one room, for clients that reconnect with since=seq. A
// room's numbers have gaps (the other rooms' events), so the log knows from
// which seq on it is complete.
class EventLog {
 public:
  // `complete_after`: the log holds every event of the room after this seq.
  EventLog(size_t capacity, uint64_t complete_after) : capacity_(capacity), complete_after_(complete_after) {}

  void append(EventPtr event);
  // The room's events after `since`, or false when some of them are no longer
  // kept. `since` must not be ahead of what the relay has applied.
  bool after(uint64_t since, std::vector<EventPtr>& out) const;

 private:
  size_t capacity_;
  uint64_t complete_after_;
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
  // The relay fell so far behind the database that it loaded everything again:
  // the subscriber must end its connection so its client reconnects and gets a
  // snapshot.
  virtual void resync() {}
};

}  // namespace relay::qa
