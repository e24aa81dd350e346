#include "qa/events.hpp"

namespace relay::qa {

void EventLog::append(EventPtr event) {
  events_.push_back(std::move(event));
  while (events_.size() > capacity_) events_.pop_front();
}

bool EventLog::after(uint64_t since, uint64_t latest, std::vector<EventPtr>& out) const {
  if (since > latest) return false;
  if (since == latest) return true;
  // Events are kept contiguous, so the oldest kept one must directly follow `since`.
  if (events_.empty() || events_.front()->seq > since + 1) return false;
  for (const EventPtr& event : events_)
    if (event->seq > since) out.push_back(event);
  return true;
}

}  // namespace relay::qa
