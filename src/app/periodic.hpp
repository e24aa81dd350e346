#pragma once
// The app's timers: one thread that runs each task at its own interval (vote
// bundles for the Q&A, health samples for the alert rules). No task runs on a
// thread that serves video, and a slow one delays only the others here.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace relay::app {

class Periodic {
 public:
  Periodic() = default;
  ~Periodic() { stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // Before start(): runs `task` every `interval`, the first time one interval after start().
  void every(std::chrono::milliseconds interval, std::function<void()> task);
  void start();
  // Waits for a task that is running; idempotent.
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::chrono::milliseconds interval;
    std::function<void()> task;
    Clock::time_point next;
  };
  void run();

  std::vector<Entry> entries_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace relay::app
