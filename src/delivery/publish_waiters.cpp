#include "delivery/publish_waiters.hpp"

#include <mutex>
#include <unordered_map>
#include <vector>

namespace relay::delivery {

// Shared with the store's listener, so a publish already under way when this
// object is destroyed still finds valid (and closed) state.
struct PublishWaiters::State {
  mutable std::mutex mutex;
  bool closed = false;
  uint64_t next_id = 1;
  size_t count = 0;
  std::vector<std::unordered_map<uint64_t, Wake>> by_rendition;

  void on_publish(size_t rendition) {
    std::lock_guard lock(mutex);
    if (closed || rendition >= by_rendition.size()) return;
    // Under the lock, so close() can promise that no wake follows it. Each wake
    // is one post, so even a thousand waiters keep the streaming thread briefly.
    for (auto& [id, wake] : by_rendition[rendition]) wake();
  }
};

PublishWaiters::PublishWaiters(hls::Store& store) : state_(std::make_shared<State>()) { also_watch(store); }

void PublishWaiters::also_watch(hls::Store& more) {
  size_t first;
  {
    std::lock_guard lock(state_->mutex);
    first = state_->by_rendition.size();
    state_->by_rendition.resize(first + more.rendition_count());
  }
  uint64_t id = more.subscribe(
      [state = state_, first](size_t rendition, uint64_t) { state->on_publish(first + rendition); });
  subscriptions_.emplace_back(&more, id);
}

PublishWaiters::~PublishWaiters() {
  close();
  for (auto& [store, id] : subscriptions_) store->unsubscribe(id);
}

uint64_t PublishWaiters::add(size_t rendition, Wake wake) {
  std::lock_guard lock(state_->mutex);
  if (state_->closed || rendition >= state_->by_rendition.size()) return 0;
  uint64_t id = state_->next_id++;
  state_->by_rendition[rendition].emplace(id, std::move(wake));
  ++state_->count;
  return id;
}

void PublishWaiters::remove(uint64_t id) {
  std::lock_guard lock(state_->mutex);
  for (auto& waiters : state_->by_rendition) {
    if (waiters.erase(id)) {
      --state_->count;
      return;
    }
  }
}

void PublishWaiters::close() {
  std::lock_guard lock(state_->mutex);
  state_->closed = true;
  for (auto& waiters : state_->by_rendition) waiters.clear();
  state_->count = 0;
}

size_t PublishWaiters::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->count;
}

}  // namespace relay::delivery
