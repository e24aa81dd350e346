#include "net/held_request.hpp"

namespace relay::net {

std::optional<Response> HeldRequest::recheck(const Handler& handler, const Exchange& exchange) {
  if (!hold_) return std::nullopt;
  Outcome outcome = handler.handle(exchange);
  auto* response = std::get_if<Response>(&outcome);
  if (!response) return std::nullopt;
  end();
  return std::move(*response);
}

Response HeldRequest::expire(const Handler& handler, const Exchange& exchange, bool timed_out) {
  const Hold hold = *hold_;
  end();
  if (timed_out) stats_.hold_timed_out();
  return handler.expire(exchange, hold);
}

void HeldRequest::end() {
  if (!hold_) return;
  waiters_.remove(waiter_id_);
  stats_.hold_ended();
  hold_.reset();
  if (timer_) timer_->cancel();
  timer_ = nullptr;
}

}  // namespace relay::net
