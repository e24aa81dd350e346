#include <catch2/catch.hpp>

#include <atomic>
#include <memory>

#include "delivery/publish_waiters.hpp"

using relay::delivery::PublishWaiters;

namespace {

std::shared_ptr<relay::hls::RenditionSnapshot> snapshot(uint64_t version) {
  auto s = std::make_shared<relay::hls::RenditionSnapshot>();
  s->version = version;
  return s;
}

}  // namespace

TEST_CASE("waiters are woken by every publish of their rendition until removed", "[waiters]") {
  relay::hls::Store store({"720p", "360p"});
  PublishWaiters waiters(store);
  std::atomic<int> woken_720{0}, woken_360{0};
  uint64_t a = waiters.add(0, [&] { ++woken_720; });
  uint64_t b = waiters.add(1, [&] { ++woken_360; });
  CHECK(a != 0);
  CHECK(b != 0);
  CHECK(a != b);
  CHECK(waiters.size() == 2);

  store.publish(0, snapshot(1));
  CHECK(woken_720 == 1);
  CHECK(woken_360 == 0);
  store.publish(0, snapshot(2));
  store.publish(1, snapshot(1));
  CHECK(woken_720 == 2);
  CHECK(woken_360 == 1);

  waiters.remove(a);
  waiters.remove(a);  // twice is harmless
  CHECK(waiters.size() == 1);
  store.publish(0, snapshot(3));
  CHECK(woken_720 == 2);
}

TEST_CASE("close() drops every waiter and refuses new ones", "[waiters]") {
  relay::hls::Store store({"720p"});
  PublishWaiters waiters(store);
  int woken = 0;
  waiters.add(0, [&] { ++woken; });
  waiters.close();
  CHECK(waiters.size() == 0);
  store.publish(0, snapshot(1));
  CHECK(woken == 0);
  CHECK(waiters.add(0, [&] { ++woken; }) == 0);
  CHECK(waiters.add(7, [&] { ++woken; }) == 0);
}

TEST_CASE("a destroyed PublishWaiters is no longer called by the store", "[waiters]") {
  relay::hls::Store store({"720p"});
  int woken = 0;
  {
    PublishWaiters waiters(store);
    waiters.add(0, [&] { ++woken; });
  }
  store.publish(0, snapshot(1));
  CHECK(woken == 0);
}
