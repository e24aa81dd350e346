#pragma once
// A request the handler held (Hold): registered with the waiters, asked again
// after each wake, answered with Handler::expire() at its deadline. One per
// HTTP/1.1 connection or HTTP/2 stream; used only on the session's thread.
#include <optional>

#include <boost/asio/steady_timer.hpp>

#include "net/handler.hpp"
#include "net/stats.hpp"

namespace relay::net {

class HeldRequest {
 public:
  HeldRequest(Waiters& waiters, StatsCounters& stats) : waiters_(waiters), stats_(stats) {}
  ~HeldRequest() { end(); }
  HeldRequest(const HeldRequest&) = delete;
  HeldRequest& operator=(const HeldRequest&) = delete;

  // Registers for wakes; `wake` runs on the waking thread and must only post
  // to the session, holding it weakly. `timer` is set to the hold's deadline
  // and then runs `on_deadline`. False when the waiters are closed (shutting
  // down): nothing will wake the request, answer it with expire() now.
  template <class DeadlineHandler>
  bool begin(const Hold& hold, Waiters::Wake wake, boost::asio::steady_timer& timer, DeadlineHandler&& on_deadline) {
    end();
    waiter_id_ = waiters_.add(hold.channel, std::move(wake));
    if (waiter_id_ == 0) return false;
    hold_ = hold;
    timer_ = &timer;
    stats_.hold_started();
    timer.expires_after(hold.timeout);
    timer.async_wait(std::forward<DeadlineHandler>(on_deadline));
    return true;
  }

  bool active() const { return hold_.has_value(); }
  const Hold& hold() const { return *hold_; }

  // After a wake (and once right after begin(): a wake between the handler's
  // answer and the registration woke no one). The response when the handler
  // now has one; the hold has then ended.
  std::optional<Response> recheck(const Handler& handler, const Exchange& exchange);
  // The deadline passed: ends the hold and returns the handler's answer for it.
  Response expire(const Handler& handler, const Exchange& exchange, bool timed_out = true);
  // Leaves the waiters and cancels the deadline; idempotent.
  void end();

 private:
  Waiters& waiters_;
  StatsCounters& stats_;
  std::optional<Hold> hold_;
  uint64_t waiter_id_ = 0;
  boost::asio::steady_timer* timer_ = nullptr;
};

}  // namespace relay::net
