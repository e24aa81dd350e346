#include "edge/websocket_session.hpp"

#include <atomic>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket/error.hpp>
#include <fmt/format.h>

#include "common/log.hpp"
#include "edge/fail.hpp"
#include "edge/stats.hpp"

namespace relay::edge {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// Ids far above the HTTP sessions' so both share one registry.
std::atomic<uint64_t> g_next_ws_id{uint64_t{1} << 62};

spdlog::logger& ws_log() {
  static const auto logger = relay::log::get("qa");
  return *logger;
}

// A slow client gets this long to take the close frame before the socket is cut.
constexpr auto kCloseGrace = std::chrono::seconds(5);
// Clients send nothing but pongs and close frames; anything big is abuse.
constexpr size_t kMaxClientMessage = 4096;
// The kernel's send buffer would otherwise grow to megabytes per connection and
// hide a stalled client from the bounded queue; thousands of subscribers would
// pin gigabytes.
constexpr int kSendBufferBytes = 64 * 1024;

}  // namespace

WebsocketSession::WebsocketSession(tcp::socket&& socket, const WebsocketContext& context, QaSubscription subscription)
    : ws_(std::move(socket)),
      close_timer_(ws_.get_executor()),
      context_(context),
      subscription_(std::move(subscription)),
      id_(g_next_ws_id.fetch_add(1)) {
  context_.stats.feed_opened();
}

WebsocketSession::~WebsocketSession() {
  if (subscribed_) context_.service.unsubscribe(subscription_.room, this);
  context_.registry.remove(id_);
  context_.stats.feed_closed();
}

void WebsocketSession::run(FullRequest request) {
  if (!context_.registry.add(id_, weak_from_this())) return;
  request_ = std::move(request);
  net::dispatch(ws_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->ws_.next_layer().set_option(net::socket_base::send_buffer_size(kSendBufferBytes), ignored);
    // Events are small and wanted at once: Nagle's algorithm with the peer's delayed
    // ACK would hold one back for up to 40 ms.
    self->ws_.next_layer().set_option(tcp::no_delay(true), ignored);
    websocket::stream_base::timeout timeout = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeout.idle_timeout = std::chrono::seconds(30);
    timeout.keep_alive_pings = true;
    self->ws_.set_option(timeout);
    self->ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, kServerName); }));
    self->ws_.read_message_max(kMaxClientMessage);
    self->ws_.async_accept(self->request_, beast::bind_front_handler(&WebsocketSession::on_accept, self));
  });
}

void WebsocketSession::on_accept(beast::error_code ec) {
  request_ = {};
  if (ec) return fail(ec, fmt::format("ws#{} accept", id_));
  if (closed_) return;
  qa::Join join;
  try {
    join = context_.service.subscribe(subscription_.room, subscription_.caller, this, subscription_.since,
                                      subscription_.epoch);
  } catch (const std::exception& e) {
    ws_log().warn("ws#{} subscribe: {}", id_, e.what());
    return do_close(websocket::close_reason(websocket::close_code::internal_error, "cannot subscribe"));
  }
  subscribed_ = true;
  ws_log().debug("ws#{} {} in room {}: {} ({} messages)", id_, qa::to_string(subscription_.caller.role),
                 subscription_.room, join.resumed ? "resumed" : "snapshot", join.messages.size());
  // Events posted from now on run after this handler, so they follow the join
  // messages. Those are bounded by qa.ws_resume_events and do not count against
  // the queue limit, which is for live events a client fails to take.
  backlog_ = join.messages.size();
  for (auto& message : join.messages) queue_.push_back(std::move(message));
  if (!queue_.empty()) do_write();
  do_read();
}

void WebsocketSession::deliver(const qa::EventPtr& event) {
  if (!event->for_caller(subscription_.caller)) return;
  net::post(ws_.get_executor(), [weak = weak_from_this(), event] {
    auto self = weak.lock();
    if (!self) return;
    self->send(event->for_caller(self->subscription_.caller));
  });
}

void WebsocketSession::send(qa::Message message) {
  if (closing_ || closed_) return;
  if (queue_.size() - backlog_ >= context_.queue_limit) return close_slow();
  queue_.push_back(std::move(message));
  if (!writing_) do_write();
}

void WebsocketSession::do_write() {
  writing_ = true;
  ws_.text(true);
  ws_.async_write(net::buffer(*queue_.front()), beast::bind_front_handler(&WebsocketSession::on_write, shared_from_this()));
}

void WebsocketSession::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  if (ec) {
    fail(ec, fmt::format("ws#{} write", id_));
    return teardown();
  }
  queue_.pop_front();
  context_.stats.feed_message_sent();
  if (backlog_ > 0) --backlog_;
  if (closing_) return do_close(websocket::close_reason(static_cast<websocket::close_code>(kCloseTooSlow), "too slow: reconnect with since=<last seq>"));
  if (!queue_.empty() && !closed_) do_write();
}

void WebsocketSession::close_slow() {
  ws_log().info("ws#{} closed: {} messages waiting (qa.ws_queue_limit)", id_, queue_.size());
  context_.stats.feed_too_slow();
  closing_ = true;
  // Only the message being written must stay; the rest the client gets on resume.
  if (writing_) {
    queue_.erase(queue_.begin() + 1, queue_.end());
  } else {
    queue_.clear();
    do_close(websocket::close_reason(static_cast<websocket::close_code>(kCloseTooSlow), "too slow: reconnect with since=<last seq>"));
  }
  close_timer_.expires_after(kCloseGrace);
  close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->teardown();
  });
}

void WebsocketSession::do_close(websocket::close_reason reason) {
  if (closed_) return;
  // Leave the subscription now: nothing more is sent to this client.
  if (subscribed_) {
    context_.service.unsubscribe(subscription_.room, this);
    subscribed_ = false;
  }
  ws_.async_close(reason, [self = shared_from_this()](beast::error_code ec) {
    if (ec) fail(ec, fmt::format("ws#{} close", self->id_));
    self->teardown();
  });
}

void WebsocketSession::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&WebsocketSession::on_read, shared_from_this()));
}

void WebsocketSession::on_read(beast::error_code ec, std::size_t) {
  buffer_.consume(buffer_.size());
  if (ec) {
    // After teardown() the read ends with whatever the shut-down socket reports.
    if (ec != websocket::error::closed && !closed_) fail(ec, fmt::format("ws#{} read", id_));
    return teardown();
  }
  do_read();
}

void WebsocketSession::close() {
  net::post(ws_.get_executor(), [self = shared_from_this()] { self->teardown(); });
}

void WebsocketSession::teardown() {
  if (closed_) return;
  closed_ = true;
  if (subscribed_) {
    context_.service.unsubscribe(subscription_.room, this);
    subscribed_ = false;
  }
  // The queue stays: a write in flight still reads its front.
  close_timer_.cancel();
  beast::error_code ignored;
  ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  ws_.next_layer().close(ignored);
}

}  // namespace relay::edge
