#pragma once
// Requests held open until a rendition's next publish: blocking playlist reloads
// and early requests for the hinted part (rfc8216bis 6.2.5.2, 6.2.6). Nothing
// waits in a thread; each waiter is a callback that posts to its session's strand.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "hls/store.hpp"
#include "net/handler.hpp"

namespace relay::delivery {

class PublishWaiters : public net::Waiters {
 public:
  // Called on the publishing (GStreamer streaming) thread with a lock held: it
  // must only post to the waiter's own executor, never run the waiter's work.
  using Wake = net::Waiters::Wake;

  // Subscribes to the store; the store must outlive this object.
  explicit PublishWaiters(hls::Store& store);
  // Another store's publishes wake channels after those already taken (the
  // subtitle renditions' after the video's: Router::subtitle_channel). Before
  // the server starts; `more` must outlive this object too.
  void also_watch(hls::Store& more);
  ~PublishWaiters() override;
  PublishWaiters(const PublishWaiters&) = delete;
  PublishWaiters& operator=(const PublishWaiters&) = delete;

  // Wakes the waiter after every publish of `rendition` until remove(). Returns
  // its id, or 0 once close() ran (the caller must then answer by itself).
  uint64_t add(size_t rendition, Wake wake) override;
  void remove(uint64_t id) override;

  // Drops every waiter and refuses new ones. Once it returns, no Wake is called
  // again, so the executors they post to may be destroyed.
  void close() override;

  size_t size() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::vector<std::pair<hls::Store*, uint64_t>> subscriptions_;
};

}  // namespace relay::delivery
