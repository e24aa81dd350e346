#include "app/periodic.hpp"

#include <algorithm>
#include <exception>

#include <pthread.h>

#include "common/log.hpp"

namespace relay::app {

void Periodic::every(std::chrono::milliseconds interval, std::function<void()> task) {
  entries_.push_back({std::max(interval, std::chrono::milliseconds(1)), std::move(task), {}});
}

void Periodic::start() {
  if (entries_.empty() || thread_.joinable()) return;
  const auto now = Clock::now();
  for (auto& e : entries_) e.next = now + e.interval;
  thread_ = std::thread([this] { run(); });
}

void Periodic::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Periodic::run() {
  pthread_setname_np(pthread_self(), "timers");
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    auto due = std::min_element(entries_.begin(), entries_.end(),
                                [](const Entry& a, const Entry& b) { return a.next < b.next; });
    if (wake_.wait_until(lock, due->next, [&] { return stopping_; })) return;
    lock.unlock();
    try {
      due->task();
    } catch (const std::exception& e) {
      relay::log::get("app")->error("timer task failed: {}", e.what());
    }
    // The next run is an interval after this one ended: a slow run is never followed by a burst.
    due->next = Clock::now() + due->interval;
    lock.lock();
  }
}

}  // namespace relay::app
