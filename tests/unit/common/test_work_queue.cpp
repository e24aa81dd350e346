#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "common/work_queue.hpp"

using namespace relay;

TEST_CASE("work queue: tasks run in order on one other thread, and stop() runs what was queued", "[work_queue]") {
  std::vector<int> order;
  std::mutex mutex;
  std::thread::id ran_on;
  {
    WorkQueue queue("test", 100);
    for (int i = 0; i < 50; ++i) {
      REQUIRE(queue.post([&, i] {
        std::lock_guard lock(mutex);
        order.push_back(i);
        ran_on = std::this_thread::get_id();
      }));
    }
    queue.stop();
    CHECK_FALSE(queue.post([] {}));
  }
  REQUIRE(order.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(order[i] == i);
  CHECK(ran_on != std::this_thread::get_id());
}

TEST_CASE("work queue: bounded, and a throwing task does not end it", "[work_queue]") {
  WorkQueue queue("test", 2);
  std::mutex gate;
  std::unique_lock hold(gate);
  std::atomic<bool> started{false};
  REQUIRE(queue.post([&] {
    started = true;
    std::lock_guard wait(gate);
  }));
  while (!started) std::this_thread::yield();
  REQUIRE(queue.post([] { throw std::runtime_error("boom"); }));
  std::atomic<bool> after{false};
  REQUIRE(queue.post([&] { after = true; }));
  CHECK_FALSE(queue.post([] {}));  // two waiting: full
  CHECK(queue.waiting() == 2);
  hold.unlock();
  queue.stop();
  CHECK(after);
}
