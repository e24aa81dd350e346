#include "common/work_queue.hpp"

#include <pthread.h>

#include "common/log.hpp"

namespace relay {

WorkQueue::WorkQueue(std::string name, size_t limit) : name_(std::move(name)), limit_(limit) {
  thread_ = std::thread([this] { run(); });
}

WorkQueue::~WorkQueue() { stop(); }

bool WorkQueue::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || tasks_.size() >= limit_) return false;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void WorkQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

size_t WorkQueue::waiting() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

void WorkQueue::run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping, and all is done
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      relay::log::get("app")->error("{}: task failed: {}", name_, e.what());
    }
  }
}

}  // namespace relay
