#include "qa/events.hpp"

namespace relay::qa {

void EventLog::append(EventPtr event) {
  events_.push_back(std::move(event));
  while (events_.size() > capacity_) {
    complete_after_ = events_.front()->seq;
    events_.pop_front();
  }
}

bool EventLog::after(uint64_t since, std::vector<EventPtr>& out) const {
  if (since < complete_after_) return false;
  for (const EventPtr& event : events_)
    if (event->seq > since) out.push_back(event);
  return true;
}

}  // namespace relay::qa
