#pragma once
// One thread that runs posted tasks in order: slow work (a database commit with
// its fsync) leaves the threads that serve video. Bounded: a full queue refuses
// new tasks rather than growing without end.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace relay {

class WorkQueue {
 public:
  using Task = std::function<void()>;

  // `name` names the thread (at most 15 characters show in ps and gdb).
  WorkQueue(std::string name, size_t limit);
  // Runs what is queued, then joins.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // False when `limit` tasks are waiting or the queue has stopped; the task is then not run.
  bool post(Task task);
  // Runs what is queued, refuses new tasks and joins the thread. Idempotent.
  void stop();
  size_t waiting() const;

 private:
  void run();

  const std::string name_;
  const size_t limit_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace relay
