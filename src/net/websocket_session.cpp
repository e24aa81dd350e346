#include "net/websocket_session.hpp"

#include <atomic>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/span.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <fmt/format.h>

#include "common/log.hpp"
#include "net/connection_registry.hpp"
#include "net/fail.hpp"
#include "net/stats.hpp"

namespace relay::net {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Ids far above the HTTP sessions' so both share one registry.
std::atomic<uint64_t> g_next_ws_id{uint64_t{1} << 62};

spdlog::logger& ws_log() {
  static const auto logger = relay::log::get("ws");
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

// Events that wait together are sent as one message up to this size; a snapshot
// or a long resume may be larger on its own.
constexpr size_t kBatchBytes = 64 * 1024;

// The bare socket for a plain connection; the TLS stream with its deadlines off,
// since the websocket layer's own timer watches the peer.
tcp::socket take_layer(PlainStream&& stream) { return stream.release_socket(); }
TlsStream take_layer(TlsStream&& stream) {
  boost::beast::get_lowest_layer(stream).expires_never();
  return std::move(stream);
}

}  // namespace

template <class Stream>
WebsocketSession<Stream>::WebsocketSession(Stream&& stream, const SessionContext& context, std::shared_ptr<Feed> feed,
                                           ConnectionSlot slot)
    : ws_(take_layer(std::move(stream))),
      close_timer_(ws_.get_executor()),
      context_(context),
      feed_(std::move(feed)),
      id_(g_next_ws_id.fetch_add(1)),
      slot_(std::move(slot)) {
  context_.stats.feed_opened();
}

template <class Stream>
WebsocketSession<Stream>::~WebsocketSession() {
  leave_feed();
  context_.registry.remove(id_);
  context_.stats.feed_closed();
}

template <class Stream>
void WebsocketSession<Stream>::run(Request request) {
  if (!context_.registry.add(id_, this->weak_from_this())) return;
  request_ = std::move(request);
  asio::dispatch(ws_.get_executor(), [self = this->shared_from_this()] {
    beast::error_code ignored;
    self->lowest_socket().set_option(asio::socket_base::send_buffer_size(kSendBufferBytes), ignored);
    // Events are small and wanted at once: Nagle's algorithm with the peer's delayed
    // ACK would hold one back for up to 40 ms.
    self->lowest_socket().set_option(tcp::no_delay(true), ignored);
    websocket::stream_base::timeout timeout = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeout.idle_timeout = std::chrono::seconds(30);
    timeout.keep_alive_pings = true;
    self->ws_.set_option(timeout);
    self->ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, kServerName); }));
    self->ws_.read_message_max(kMaxClientMessage);
    self->ws_.async_accept(self->request_, beast::bind_front_handler(&WebsocketSession<Stream>::on_accept, self));
  });
}

template <class Stream>
void WebsocketSession<Stream>::on_accept(beast::error_code ec) {
  request_ = {};
  if (ec) return fail(ec, fmt::format("ws#{} accept", id_));
  if (closed_) return;
  if (!feed_->opens_on_first_message()) return open_feed({});
  close_timer_.expires_after(kFirstMessageTimeout);
  close_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
    if (ec || self->subscribed_ || self->closing_ || self->closed_) return;
    ws_log().debug("ws#{} closed: no first message in time", self->id_);
    self->close_after_write(websocket::close_reason(websocket::close_code::policy_error, "credentials expected"));
  });
  ws_.async_read(buffer_, beast::bind_front_handler(&WebsocketSession<Stream>::on_first_message,
                                                    this->shared_from_this()));
}

template <class Stream>
void WebsocketSession<Stream>::on_first_message(beast::error_code ec, std::size_t) {
  if (ec) {
    if (ec != websocket::error::closed && !closed_) fail(ec, fmt::format("ws#{} read", id_));
    return teardown();
  }
  if (closing_ || closed_) return;
  close_timer_.cancel();
  const std::string first = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  open_feed(first);
}

template <class Stream>
void WebsocketSession<Stream>::open_feed(std::string_view first_message) {
  std::vector<Bytes> first;
  try {
    first = feed_->open(std::static_pointer_cast<FeedSink>(this->shared_from_this()), first_message);
  } catch (const FeedRefused& e) {
    ws_log().debug("ws#{} refused: {}", id_, e.what());
    return do_close(websocket::close_reason(static_cast<websocket::close_code>(e.code), e.what()));
  } catch (const std::exception& e) {
    ws_log().warn("ws#{} open: {}", id_, e.what());
    return do_close(websocket::close_reason(websocket::close_code::internal_error, "cannot subscribe"));
  }
  subscribed_ = true;
  // Pushes posted from now on run after this handler, so they follow the first
  // messages. Those are bounded by the feed (a snapshot, or the events a
  // resume missed) and do not count against the queue limit, which is for live
  // messages a client fails to take.
  backlog_ = first.size();
  for (auto& message : first) queue_.push_back(std::move(message));
  if (!queue_.empty()) do_write();
  do_read();
}

template <class Stream>
void WebsocketSession<Stream>::push(Bytes message) {
  if (!message) return;
  {
    std::lock_guard lock(inbox_mutex_);
    if (inbox_.size() <= context_.feed_queue_limit) inbox_.push_back(std::move(message));
    if (drain_posted_) return;
    drain_posted_ = true;
  }
  asio::post(ws_.get_executor(), [weak = this->weak_from_this()] {
    if (auto self = weak.lock()) self->drain_inbox();
  });
}

template <class Stream>
void WebsocketSession<Stream>::drain_inbox() {
  {
    std::lock_guard lock(inbox_mutex_);
    draining_.swap(inbox_);
    drain_posted_ = false;
  }
  for (auto& message : draining_)
    if (!enqueue(std::move(message))) break;
  draining_.clear();
  if (in_flight_ == 0 && !queue_.empty() && !closing_ && !closed_) do_write();
}

template <class Stream>
bool WebsocketSession<Stream>::enqueue(Bytes message) {
  if (closing_ || closed_) return false;
  if (queue_.size() - backlog_ >= context_.feed_queue_limit) {
    close_slow();
    return false;
  }
  queue_.push_back(std::move(message));
  return true;
}

template <class Stream>
void WebsocketSession<Stream>::do_write() {
  // Whatever waits goes out as one message: the client wakes once, and the kernel
  // sends one segment, for an action's events or a burst from several actions.
  size_t bytes = queue_.front()->size();
  in_flight_ = 1;
  while (in_flight_ < queue_.size() && bytes + queue_[in_flight_]->size() + 1 <= kBatchBytes)
    bytes += queue_[in_flight_++]->size() + 1;
  write_buffers_.clear();
  if (in_flight_ == 1) {
    write_buffers_.push_back(asio::buffer(*queue_.front()));
  } else {
    static constexpr char kOpen = '[', kComma = ',', kClose = ']';
    for (size_t i = 0; i < in_flight_; ++i) {
      write_buffers_.push_back(asio::buffer(i == 0 ? &kOpen : &kComma, 1));
      write_buffers_.push_back(asio::buffer(*queue_[i]));
    }
    write_buffers_.push_back(asio::buffer(&kClose, 1));
  }
  ws_.text(true);
  // A view of write_buffers_: the write keeps its own copy of the sequence it is given.
  ws_.async_write(beast::span<const asio::const_buffer>(write_buffers_.data(), write_buffers_.size()),
                  beast::bind_front_handler(&WebsocketSession<Stream>::on_write, this->shared_from_this()));
}

template <class Stream>
void WebsocketSession<Stream>::on_write(beast::error_code ec, std::size_t) {
  const size_t sent = std::exchange(in_flight_, 0);
  if (ec) {
    fail(ec, fmt::format("ws#{} write", id_));
    return teardown();
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(sent));
  context_.stats.feed_message_sent(sent);
  backlog_ -= std::min(backlog_, sent);
  if (closing_) return do_close(close_reason_);
  if (!queue_.empty() && !closed_) do_write();
}

template <class Stream>
void WebsocketSession<Stream>::close_slow() {
  ws_log().info("ws#{} closed: {} messages waiting (qa.ws_queue_limit)", id_, queue_.size());
  context_.stats.feed_too_slow();
  close_after_write(websocket::close_reason(static_cast<websocket::close_code>(kCloseTooSlow),
                                            "too slow: reconnect with since=<last seq>"));
}

template <class Stream>
void WebsocketSession<Stream>::close_after_write(websocket::close_reason reason) {
  closing_ = true;
  close_reason_ = std::move(reason);
  // Only the message being written must stay; the rest the client gets on resume.
  if (in_flight_ > 0) {
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(in_flight_), queue_.end());
  } else {
    queue_.clear();
    do_close(close_reason_);
  }
  close_timer_.expires_after(kCloseGrace);
  close_timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
    if (!ec) self->teardown();
  });
}

template <class Stream>
void WebsocketSession<Stream>::end(uint16_t code, std::string_view reason) {
  asio::post(ws_.get_executor(), [self = this->shared_from_this(), code, reason = std::string(reason)] {
    if (self->closing_ || self->closed_) return;
    if (!self->subscribed_) return self->teardown();
    self->close_after_write(websocket::close_reason(static_cast<websocket::close_code>(code), reason));
  });
}

template <class Stream>
void WebsocketSession<Stream>::do_close(websocket::close_reason reason) {
  if (closed_) return;
  // Leave the feed now: nothing more is sent to this client.
  leave_feed();
  ws_.async_close(reason, [self = this->shared_from_this()](beast::error_code ec) {
    if (ec) fail(ec, fmt::format("ws#{} close", self->id_));
    self->teardown();
  });
}

template <class Stream>
void WebsocketSession<Stream>::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&WebsocketSession<Stream>::on_read, this->shared_from_this()));
}

template <class Stream>
void WebsocketSession<Stream>::on_read(beast::error_code ec, std::size_t) {
  buffer_.consume(buffer_.size());
  if (ec) {
    // After teardown() the read ends with whatever the shut-down socket reports.
    if (ec != websocket::error::closed && !closed_) fail(ec, fmt::format("ws#{} read", id_));
    return teardown();
  }
  do_read();
}

template <class Stream>
void WebsocketSession<Stream>::close() {
  asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->teardown(); });
}

template <class Stream>
void WebsocketSession<Stream>::drain() {
  asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
    if (self->closing_ || self->closed_) return;
    // Not yet accepted: no WebSocket to say goodbye on.
    if (!self->subscribed_) return self->teardown();
    self->close_after_write(websocket::close_reason(websocket::close_code::going_away, "server shutting down"));
  });
}

template <class Stream>
void WebsocketSession<Stream>::teardown() {
  if (closed_) return;
  closed_ = true;
  leave_feed();
  // The queue stays: a write in flight still reads its front.
  close_timer_.cancel();
  beast::error_code ignored;
  lowest_socket().shutdown(tcp::socket::shutdown_both, ignored);
  lowest_socket().close(ignored);
}

template <class Stream>
void WebsocketSession<Stream>::leave_feed() {
  if (!subscribed_) return;
  subscribed_ = false;
  feed_->close();
}

template class WebsocketSession<PlainStream>;
template class WebsocketSession<TlsStream>;

}  // namespace relay::net
